"""Plan → render → send → record: the one loop every campaign and follow-up goes through.

Prefect flows call these functions; so can anything else. Nothing here imports Prefect.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from listonosz.campaign import Campaign
from listonosz.config import Settings
from listonosz.contacts.merge import MergeResult, SourceList, merge_lists
from listonosz.contacts.model import Contact
from listonosz.ledger import Ledger, Outcome, delivery_key
from listonosz.links import unsubscribe_url
from listonosz.message import Envelope, build_message
from listonosz.render.environment import Links, MessageRenderer, RenderedMessage
from listonosz.transports import Outgoing, Transport, make_transport

#: A row left in ``sending`` this long is taken to be the remains of a crashed run.
DEFAULT_STALE_AFTER = dt.timedelta(minutes=10)


def merge_audience(campaign: Campaign) -> MergeResult:
    """Every contact list of the campaign merged into one audience, in its groups."""
    lists = [
        SourceList(campaign.source_path(source), source.group, label=str(source.path))
        for source in campaign.audience.sources
    ]
    result = merge_lists(lists)
    if campaign.audience.groups is not None:
        wanted = set(campaign.audience.groups)
        result.contacts = [c for c in result.contacts if wanted.intersection(c.groups)]
    return result


@dataclass
class Plan:
    """Who is to receive one message kind now, and how many already have."""

    campaign_id: str
    kind: str
    recipients: list[Contact]
    audience_size: int
    already_settled: int

    def batches(self, size: int) -> list[list[Contact]]:
        return [self.recipients[i : i + size] for i in range(0, len(self.recipients), size)]


def plan_delivery(
    campaign: Campaign, kind: str, audience: Sequence[Contact], ledger: Ledger
) -> Plan:
    """The audience minus everyone whose message of this kind is already settled."""
    campaign.message(kind)  # an unknown kind fails here, before anything else
    settled = ledger.settled_emails(campaign.id, kind)
    recipients = [contact for contact in audience if contact.email not in settled]
    return Plan(campaign.id, kind, recipients, len(audience), len(audience) - len(recipients))


@dataclass
class BatchReport:
    """What one batch did: counts per status, and resends of messages a crash left in flight."""

    counts: Counter[str] = field(default_factory=Counter)
    possible_duplicates: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, other: BatchReport) -> None:
        self.counts.update(other.counts)
        self.possible_duplicates += other.possible_duplicates
        self.failures.extend(other.failures)


def message_id(key: str, domain: str) -> str:
    """The Message-ID of a ledger row: the same for every attempt, so clients fold resends."""
    return f"<{key}@{domain}>"


class BatchSender:
    """Everything needed to send batches of one message kind: renderer, transport, ledger."""

    def __init__(
        self,
        campaign: Campaign,
        kind: str,
        settings: Settings,
        ledger: Ledger,
        templates_dir: Path,
        transport: Transport | None = None,
        run_id: str | None = None,
        stale_after: dt.timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        self.campaign = campaign
        self.kind = kind
        self.settings = settings
        self.ledger = ledger
        self.renderer = MessageRenderer(campaign, kind, templates_dir)
        self.transport = transport or make_transport(
            settings.transport_settings(campaign.transport)
        )
        self.run_id = run_id or uuid.uuid4().hex
        self.stale_after = stale_after
        self._secret = settings.signing_secret()

    def send(self, batch: Sequence[Contact]) -> BatchReport:
        """Render the batch, claim its rows, send what this run won, and settle the results."""
        prepared = {contact.email: self._prepare(contact) for contact in batch}
        claims = self.ledger.claim(
            self.campaign.id,
            self.kind,
            [(email, p.groups, p.envelope.message_id) for email, p in prepared.items()],
            self.run_id,
            self.stale_after,
        )
        now = dt.datetime.now(dt.UTC)
        outgoing = [
            Outgoing(
                claim.key,
                self.campaign.sender.email,
                claim.email,
                build_message(prepared[claim.email].envelope, prepared[claim.email].rendered, now),
            )
            for claim in claims
        ]
        deliveries = self.transport.send_batch(outgoing)
        self.ledger.settle(self.run_id, [Outcome(d.key, d.status, d.detail) for d in deliveries])
        return BatchReport(
            counts=Counter(d.status for d in deliveries),
            possible_duplicates=sum(claim.resent for claim in claims),
            failures=[
                f"{claim.email}: {d.detail}"
                for claim, d in zip(claims, deliveries, strict=True)
                if d.status != "sent"
            ],
        )

    def _prepare(self, contact: Contact) -> Prepared:
        """Render one recipient's message and fix its headers; raises before anything is claimed."""
        campaign, sender = self.campaign, self.campaign.sender
        key = delivery_key(campaign.id, self.kind, contact.email)
        url = unsubscribe_url(self.settings.public_url, self._secret, key)
        envelope = Envelope(
            from_name=sender.name,
            from_email=sender.email,
            to_name=contact.full_name or contact.organisation,
            to_email=contact.email,
            message_id=message_id(key, sender.domain),
            list_id=f"{campaign.event.title} <{campaign.id}.{sender.domain}>",
            unsubscribe_url=url,
            unsubscribe_mailto=f"mailto:{sender.reply_to or sender.email}?subject=unsubscribe",
            campaign_id=campaign.id,
            reply_to=sender.reply_to,
        )
        rendered = self.renderer.render(contact, Links(unsubscribe=url))
        return Prepared(envelope, rendered, ";".join(contact.groups))


@dataclass(frozen=True, slots=True)
class Prepared:
    """One recipient's message, rendered and addressed, waiting for its claim."""

    envelope: Envelope
    rendered: RenderedMessage
    groups: str
