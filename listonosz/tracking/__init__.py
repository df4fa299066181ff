"""What happens after hand-off: one event vocabulary, recorded in the store's event log and
applied to the suppression list (an unsubscribe today; webhooks and bounces build on it)."""

from listonosz.tracking.events import (
    BOUNCE_CLASSES,
    EVENT_TYPES,
    SOURCES,
    BounceClass,
    EventType,
    Source,
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
    "SOURCES",
    "BounceClass",
    "EventType",
    "Source",
    "UnsubscribeRequest",
    "Unsubscribed",
    "unsubscribe",
    "unsubscribe_many",
]
