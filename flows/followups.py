"""The follow-ups flow: every due scheduled message of every campaign, sent once.

Run by the ``follow-ups`` deployment on a schedule; each due message kind goes through the
``send-campaign`` flow (as a subflow), so the ledger keeps it exactly once and a late or
repeated run sends nothing new. A message whose window has passed is reported as missed and
never sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger
from prefect.events import emit_event
from prefect.events.worker import EventsWorker
from prefect.settings import PREFECT_API_URL

from flows.campaign import send_campaign
from listonosz.config import Settings
from listonosz.lifecycle import CampaignBook, FollowUp, follow_ups, read_state
from listonosz.sending import merge_audience
from listonosz.store import Ledger, Participants, SuppressionList


def due_follow_ups(settings: Settings, campaign_id: str | None, now: dt.datetime) -> list[FollowUp]:
    """What every (or one) campaign's scheduled messages are doing at ``now``."""
    book = CampaignBook(settings)
    campaigns = book.all()
    if campaign_id is not None:
        campaigns = [c for c in campaigns if c.id == campaign_id]
    url = settings.resolved_ledger_url
    found: list[FollowUp] = []
    with (
        Ledger(url) as ledger,
        Participants(url) as people,
        SuppressionList(url, settings.signing_secret()) as suppression,
    ):
        for campaign in campaigns:
            if not any(spec.scheduled for spec in campaign.messages.values()):
                continue
            contacts = merge_audience(campaign, suppression).contacts
            found += follow_ups(campaign, contacts, read_state(ledger, people, campaign), now)
    return found


@flow(name="follow-ups")
def run_follow_ups(
    campaign: str | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Send every follow-up that is due now, of every campaign in campaigns/ (or one).

    Args:
        campaign: A campaign id; every campaign of the project when empty.
        now: The moment to decide at (tests move the clock); the current time when empty.
        dry_run: Write the messages to var/dry-run instead of sending them.
    """
    settings = Settings()
    moment = now or dt.datetime.now(dt.UTC)
    logger = get_run_logger()
    book = CampaignBook(settings)
    if campaign is not None and book.get(campaign) is None:
        logger.warning("No campaign %r in campaigns/: nothing to send", campaign)
    sent: dict[str, int] = {}
    missed: list[str] = []
    for item in due_follow_ups(settings, campaign, moment):
        name = f"{item.campaign.id}/{item.kind}"
        if item.state == "missed":
            if item.recipients:
                missed.append(f"{name}: {len(item.recipients)} people, {item.reason}")
                logger.warning("Missed %s: %s", name, item.reason)
            continue
        if item.state != "due" or not item.recipients:
            continue
        path = book.path_of(item.campaign.id)
        assert path is not None
        result = send_campaign(
            str(path.resolve()),
            item.kind,
            transport="outbox" if dry_run else None,
            now=moment,
        )
        sent[name] = int(result["sent"]) if isinstance(result, dict) else 0
    return {"sent": sent, "missed": missed}


#: The Prefect event that closing attendance emits; the follow-ups deployment's trigger.
ATTENDANCE_CLOSED = "listonosz.attendance.closed"


def announce_attendance_closed(campaign_id: str) -> bool:
    """Emit the attendance-closed event to the Prefect server (when one is configured), so
    the follow-ups deployment's trigger runs the follow-ups at once; False when no server."""
    if not PREFECT_API_URL.value():
        return False
    emitted = emit_event(
        event=ATTENDANCE_CLOSED,
        resource={"prefect.resource.id": f"listonosz.campaign.{campaign_id}"},
        payload={"campaign": campaign_id},
    )
    # Handed to the server now: the CLI that closed attendance is about to exit.
    EventsWorker.drain_all(timeout=30)
    return emitted is not None
