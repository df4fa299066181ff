"""The store: who got which message (the delivery ledger, its runs and pauses) and who must
never get one (the suppression list), in one database: SQLite under ``var/`` or PostgreSQL."""

from listonosz.store.engine import StoreError, dispose_all, shown
from listonosz.store.engine import upgrade as upgrade_store
from listonosz.store.ledger import (
    ALL_KINDS,
    DEFAULT_LEASE,
    DEFERRED,
    FAILED,
    SENDING,
    SENT,
    SETTLED,
    Claim,
    Ledger,
    Outcome,
    Status,
    delivery_key,
)
from listonosz.store.suppression import (
    REASONS,
    Entry,
    Reason,
    SuppressionError,
    SuppressionList,
    suppression_key,
)

__all__ = [
    "ALL_KINDS",
    "DEFAULT_LEASE",
    "DEFERRED",
    "FAILED",
    "REASONS",
    "SENDING",
    "SENT",
    "SETTLED",
    "Claim",
    "Entry",
    "Ledger",
    "Outcome",
    "Reason",
    "Status",
    "StoreError",
    "SuppressionError",
    "SuppressionList",
    "delivery_key",
    "dispose_all",
    "shown",
    "suppression_key",
    "upgrade_store",
]
