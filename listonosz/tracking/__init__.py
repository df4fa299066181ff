"""What happens after hand-off: one event vocabulary (:class:`TrackedEvent`), recorded in the
store's event log, matched to its delivery, and applied to the delivery's outcome and the
suppression list (:class:`Tracker`)."""

from listonosz.tracking.apply import Applied, Policy, Tracker
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
from listonosz.tracking.unsubscribe import (
    Unsubscribed,
    UnsubscribeRequest,
    unsubscribe,
    unsubscribe_many,
)

__all__ = [
    "BOUNCE_CLASSES",
    "EVENT_TYPES",
    "OUTCOME_RANK",
    "SOURCES",
    "Applied",
    "BounceClass",
    "EventType",
    "Policy",
    "Source",
    "TrackedEvent",
    "Tracker",
    "UnsubscribeRequest",
    "Unsubscribed",
    "redact",
    "unsubscribe",
    "unsubscribe_many",
]
