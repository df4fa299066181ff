"""Follow-ups: which scheduled message of which campaign is due, and for whom.

:func:`due_at` places a rule on the calendar; :func:`audience_of` narrows a campaign's merged
audience to a rule's people from their state (answers, attendance, who got the invitation);
:func:`follow_ups` decides, for a moment ``now`` and a snapshot of the store, what each
scheduled message is doing: not yet due, waiting for attendance, due (and for whom), or
missed (its window passed). All three are pure: the clock and the store are arguments, so
tests move time instead of sleeping, and a late or repeated run decides the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from listonosz.campaign import Campaign, MessageSpec
from listonosz.contacts.model import Contact
from listonosz.store import Ledger, Participant, Participants

#: The message kind whose delivery makes someone "invited" (for ``no_answer``).
INVITATION = "invitation"

State = Literal["not_yet", "waiting", "due", "missed"]


@dataclass(frozen=True, slots=True)
class CampaignState:
    """What the store knows about one campaign's people at one moment."""

    participants: Sequence[Participant] = ()
    invited: frozenset[str] = frozenset()
    attendance_closed: dt.datetime | None = None
    #: kind → addresses whose message of that kind is settled (sent, or failed for good)
    settled: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FollowUp:
    """One scheduled message of one campaign at ``now``: its state and, when due, who."""

    campaign: Campaign
    kind: str
    due_at: dt.datetime
    state: State
    recipients: tuple[str, ...] = ()
    reason: str = ""


def read_state(ledger: Ledger, people: Participants, campaign: Campaign) -> CampaignState:
    """The store's view of one campaign now (the only part here that reads the store)."""
    return CampaignState(
        participants=people.of_campaign(campaign.id),
        invited=frozenset(ledger.sent_emails(campaign.id, INVITATION)),
        attendance_closed=people.attendance_closed(campaign.id),
        settled={
            kind: frozenset(ledger.settled_emails(campaign.id, kind))
            for kind, spec in campaign.messages.items()
            if spec.scheduled is not None
        },
    )


def due_at(campaign: Campaign, spec: MessageSpec) -> dt.datetime:
    """When the rule's message is due (aware), in the event's time zone."""
    schedule = spec.scheduled
    if schedule is None:
        raise ValueError("a message sent by hand (send: now) is never due by itself")
    event = campaign.event
    zone = ZoneInfo(event.timezone)
    if schedule.before_start is not None:
        moment = event.starts_at.astimezone(zone) - schedule.before_start
    else:
        assert schedule.after_end is not None
        moment = event.ends_at.astimezone(zone) + schedule.after_end
    if schedule.at is not None:
        local = dt.datetime.combine(moment.date(), schedule.at)
        moment = local.replace(tzinfo=zone)
    return moment


def attendance_final(campaign: Campaign, state: CampaignState, now: dt.datetime) -> bool:
    """Whether attendance counts as final: staff closed it, or its grace period ran out."""
    if state.attendance_closed is not None and state.attendance_closed <= now:
        return True
    return now >= campaign.event.ends_at + campaign.event.attendance_closes


def audience_of(
    spec: MessageSpec, contacts: Iterable[Contact], state: CampaignState, now: dt.datetime
) -> list[Contact]:
    """The contacts a rule's message goes to (everyone when it names no audience), minus
    those who answered within ``not_within`` before ``now``."""
    people = {p.email: p for p in state.participants}
    wanted = set(spec.audience) if spec.audience is not None else None
    fresh = now - spec.not_within if spec.not_within is not None else None
    chosen = []
    for contact in contacts:
        person = people.get(contact.email)
        if wanted is not None and not wanted & _states(contact.email, person, state):
            continue
        answered = person.answered_at if person else None
        if fresh is not None and answered is not None and _aware(answered) > fresh:
            continue
        chosen.append(contact)
    return chosen


def _states(email: str, person: Participant | None, state: CampaignState) -> set[str]:
    answer = person.answer if person else None
    attended = person.attended if person else None
    found = set()
    if answer in ("yes", "no"):
        found.add(answer)
    elif email in state.invited:
        found.add("no_answer")
    if attended == "attended":
        found.add("attended")
    elif answer == "yes":
        found.add("absent")  # said yes and was not marked present (once attendance is final)
    return found


def follow_ups(
    campaign: Campaign,
    contacts: Sequence[Contact],
    state: CampaignState,
    now: dt.datetime,
) -> list[FollowUp]:
    """Every scheduled message of ``campaign`` at ``now``, with its state and recipients (the
    rule's audience, less those whose message of that kind is already settled)."""
    found = []
    for kind, spec in campaign.messages.items():
        if spec.scheduled is None:
            continue
        when = due_at(campaign, spec)
        if now < when:
            found.append(FollowUp(campaign, kind, when, "not_yet"))
            continue
        settled = state.settled.get(kind, frozenset())
        people = tuple(
            c.email for c in audience_of(spec, contacts, state, now) if c.email not in settled
        )
        if now > when + spec.stale_after:
            reason = f"its window closed at {_shown(when + spec.stale_after, campaign)}"
            found.append(FollowUp(campaign, kind, when, "missed", people, reason))
        elif spec.needs_attendance == "closed" and not attendance_final(campaign, state, now):
            reason = "waits for attendance to be closed (listonosz attendance close)"
            found.append(FollowUp(campaign, kind, when, "waiting", (), reason))
        else:
            found.append(FollowUp(campaign, kind, when, "due", people))
    return found


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _shown(moment: dt.datetime, campaign: Campaign) -> str:
    return moment.astimezone(ZoneInfo(campaign.event.timezone)).strftime("%Y-%m-%d %H:%M %Z")
