"""What happens after hand-off: one event vocabulary (:class:`TrackedEvent`), recorded in the
store's event log, matched to its delivery, and applied to the delivery's outcome and the
suppression list (:class:`Tracker`); the bounce mailbox (signed VERP return paths, reports told
apart, read over IMAP)."""

from listonosz.tracking.apply import Applied, Policy, Tracker
from listonosz.tracking.bounces import KINDS, Classified, classify
from listonosz.tracking.events import (
    BOUNCE_CLASSES,
    EVENT_TYPES,
    OUTCOME_RANK,
    SOURCES,
    BounceClass,
    EventType,
    Source,
    TrackedEvent,
    redact,
)
from listonosz.tracking.mailbox import (
    BounceMailbox,
    BounceMailboxError,
    Collected,
    read_bounce_mailbox,
    tracked_events,
)
from listonosz.tracking.unsubscribe import (
    Unsubscribed,
    UnsubscribeRequest,
    unsubscribe,
    unsubscribe_many,
)
from listonosz.tracking.verp import verp_address, verp_key

__all__ = [
    "BOUNCE_CLASSES",
    "EVENT_TYPES",
    "KINDS",
    "OUTCOME_RANK",
    "SOURCES",
    "Applied",
    "BounceClass",
    "BounceMailbox",
    "BounceMailboxError",
    "Classified",
    "Collected",
    "EventType",
    "Policy",
    "Source",
    "TrackedEvent",
    "Tracker",
    "UnsubscribeRequest",
    "Unsubscribed",
    "classify",
    "read_bounce_mailbox",
    "redact",
    "tracked_events",
    "unsubscribe",
    "unsubscribe_many",
    "verp_address",
    "verp_key",
]
