"""The store: who got which message (the delivery ledger, its runs and pauses), what happened
after (the event log), who answered and came (participants) and who must never get one (the
suppression list), in one database: SQLite under ``var/`` or PostgreSQL."""

from listonosz.store.engine import Checkpointer, StoreError, dispose_all, shown
from listonosz.store.engine import upgrade as upgrade_store
from listonosz.store.events import EventLog, StoredEvent
from listonosz.store.holds import Holds
from listonosz.store.inbox import Inbox, Received
from listonosz.store.ledger import (
    ALL_KINDS,
    DEFAULT_LEASE,
    DEFERRED,
    FAILED,
    SENDING,
    SENT,
    SETTLED,
    Claim,
    Delivery,
    Heartbeat,
    Ledger,
    Outcome,
    Status,
    delivery_key,
)
from listonosz.store.participants import (
    ANSWERS,
    ATTENDANCE,
    Answer,
    Attendance,
    Participant,
    Participants,
)
from listonosz.store.personal import PERSONAL_TABLES, Erased, PersonalData, PersonData
from listonosz.store.suppression import (
    REASONS,
    SCOPES,
    Addition,
    Entry,
    Reason,
    Scope,
    SuppressionError,
    SuppressionList,
    person_key,
)

__all__ = [
    "ALL_KINDS",
    "ANSWERS",
    "ATTENDANCE",
    "DEFAULT_LEASE",
    "DEFERRED",
    "FAILED",
    "PERSONAL_TABLES",
    "REASONS",
    "SCOPES",
    "SENDING",
    "SENT",
    "SETTLED",
    "Addition",
    "Answer",
    "Attendance",
    "Checkpointer",
    "Claim",
    "Delivery",
    "Entry",
    "Erased",
    "EventLog",
    "Heartbeat",
    "Holds",
    "Inbox",
    "Ledger",
    "Outcome",
    "Participant",
    "Participants",
    "PersonData",
    "PersonalData",
    "Reason",
    "Received",
    "Scope",
    "Status",
    "StoreError",
    "StoredEvent",
    "SuppressionError",
    "SuppressionList",
    "delivery_key",
    "dispose_all",
    "person_key",
    "shown",
    "upgrade_store",
]
