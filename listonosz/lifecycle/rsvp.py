"""RSVP: a recipient answers an invitation ("yes, I'll come" / "I can't") from its link.

The answer lands in ``participants`` and, as an ``answered`` event, in the event log. It can
change any time before the event starts; after the registration deadline a "yes" is no longer
taken (a "no" still is: organisers want to know who will not come after all).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from listonosz.campaign import Campaign
from listonosz.lifecycle.campaigns import CampaignBook
from listonosz.store import ANSWERS, Delivery, EventLog, Ledger, Participants, StoredEvent

#: Why answers are not taken: the event has started (or is over), or registration closed.
Closed = Literal["over", "deadline"]


class RsvpError(ValueError):
    """An answer that cannot be taken now; ``reason`` says why (for the page to explain)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Invitation:
    """One recipient's invitation as the RSVP page shows it (no address in it)."""

    campaign: Campaign
    delivery_key: str
    answer: str | None
    answered_at: dt.datetime | None
    closed: Closed | None

    @property
    def yes_open(self) -> bool:
        return self.closed is None

    @property
    def no_open(self) -> bool:
        return self.closed != "over"


def closed_for(campaign: Campaign, now: dt.datetime) -> Closed | None:
    """Whether (and why) answers are closed at ``now``."""
    event = campaign.event
    if now >= event.starts_at:
        return "over"
    deadline = event.registration.deadline
    if deadline is not None:
        # the deadline date is the last day answers are taken, in the event's zone
        local = now.astimezone(event.starts_at.tzinfo)
        if local.date() > deadline:
            return "deadline"
    return None


class Rsvp:
    """Reads and records answers for the deliveries of the project's campaigns."""

    def __init__(
        self, ledger: Ledger, participants: Participants, log: EventLog, book: CampaignBook
    ) -> None:
        self._ledger = ledger
        self._participants = participants
        self._log = log
        self._book = book

    def invitation(self, delivery_key: str, now: dt.datetime) -> Invitation | None:
        """The invitation behind a delivery, or None when the store or the project no longer
        has it (an erased person, a deleted ledger, a campaign file removed)."""
        found = self._find(delivery_key)
        if found is None:
            return None
        delivery, campaign = found
        state = self._participants.get(campaign.id, delivery.email)
        return Invitation(
            campaign,
            delivery_key,
            state.answer if state else None,
            state.answered_at if state else None,
            closed_for(campaign, now),
        )

    def answer(self, delivery_key: str, answer: str, now: dt.datetime) -> Invitation | None:
        """Record ``answer`` (``yes`` or ``no``); the same answer again changes nothing.

        Raises :class:`RsvpError` when answers are closed (``over``, ``deadline``) or the
        answer is not one of ``yes``/``no`` (``answer``).
        """
        if answer not in ANSWERS:
            raise RsvpError("answer")
        found = self._find(delivery_key)
        if found is None:
            return None
        delivery, campaign = found
        closed = closed_for(campaign, now)
        if closed == "over" or (closed == "deadline" and answer == "yes"):
            raise RsvpError(closed)
        state = self._participants.get(campaign.id, delivery.email)
        if state is None or state.answer != answer:
            self._log.record(
                StoredEvent(
                    source="web",
                    source_event_id=uuid.uuid4().hex,
                    type="answered",
                    occurred_at=now,
                    delivery_key=delivery_key,
                    campaign=campaign.id,
                    detail={"answer": answer, "before": state.answer if state else None},
                )
            )
            self._participants.answer(campaign.id, delivery.email, answer, "web", now)
        return self.invitation(delivery_key, now)

    def _find(self, delivery_key: str) -> tuple[Delivery, Campaign] | None:
        delivery = self._ledger.delivery(delivery_key)
        if delivery is None:
            return None
        campaign = self._book.get(delivery.campaign)
        if campaign is None:
            return None
        return delivery, campaign
