"""Claim, send, settle: what happens to prepared messages, a chunk at a time."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from listonosz.sending.prepare import Ready
from listonosz.stopping import PAUSED, Stop
from listonosz.store import DEFAULT_LEASE, Ledger, Outcome
from listonosz.tracking import SOURCES, BounceClass, TrackedEvent, Tracker, redact
from listonosz.transports import Delivery, Transport
from listonosz.transports.base import NOT_SENT
from listonosz.transports.smtp import enhanced_status


@dataclass
class BatchReport:
    """What sending did: counts per status, resends of messages a crash left in flight, rows
    another live run holds, every failure with its reason, whether it stopped before the end
    of its batch, and (batches sent by workers) how many each worker sent."""

    counts: Counter[str] = field(default_factory=Counter)
    possible_duplicates: int = 0
    held_elsewhere: int = 0
    failures: list[str] = field(default_factory=list)
    refused_addresses: list[str] = field(default_factory=list)
    stopped: bool = False
    sent_by: Counter[str] = field(default_factory=Counter)

    def add(self, other: BatchReport) -> None:
        self.counts.update(other.counts)
        self.possible_duplicates += other.possible_duplicates
        self.held_elsewhere += other.held_elsewhere
        self.failures.extend(other.failures)
        self.refused_addresses.extend(other.refused_addresses)
        self.stopped = self.stopped or other.stopped
        self.sent_by.update(other.sent_by)


class BatchSender:
    """Sends batches of prepared messages of one message kind: claim, send, settle.

    Rows are claimed a chunk at a time (the transport's ``claim_chunk``: one request's worth
    for mail APIs, a few messages for SMTP), just before they are sent, and settled right after;
    a crash leaves at most one chunk per sending thread in flight. Before each claim it asks
    whether the run was told to stop (``stop``) or staff paused the campaign (``paused``): then
    it claims nothing more, and the transport leaves unsent what it has not begun to send.
    A message refused for good at send time (an SMTP 5xx, a provider's refusal) is a bounce
    like one that comes back later: it goes through ``tracker`` (event log, suppression).
    """

    def __init__(
        self,
        campaign_id: str,
        kind: str,
        ledger: Ledger,
        transport: Transport,
        run_id: str,
        lease: dt.timedelta = DEFAULT_LEASE,
        claim_chunk: int | None = None,
        tracker: Tracker | None = None,
        stop: Stop | None = None,
        paused: Callable[[], bool] | None = None,
    ) -> None:
        self.campaign_id = campaign_id
        self.stop = stop or Stop()
        self.paused = paused
        self.kind = kind
        self.tracker = tracker
        self.ledger = ledger
        self.transport = transport
        self.run_id = run_id
        self.lease = lease
        self.claim_chunk = claim_chunk or transport.claim_chunk

    def send(self, batch: Sequence[Ready]) -> BatchReport:
        """Send one batch, a claimed chunk at a time."""
        report = BatchReport()
        for start in range(0, len(batch), self.claim_chunk):
            if self.stopping():
                report.stopped = True
                break
            report.add(self._send_chunk(batch[start : start + self.claim_chunk]))
        return report

    def stopping(self) -> bool:
        """Whether to claim nothing more: the run was asked to stop, or staff paused it."""
        if not self.stop.requested and self.paused is not None and self.paused():
            self.stop.request(PAUSED)
        return self.stop.requested

    def _send_chunk(self, chunk: Sequence[Ready]) -> BatchReport:
        claims = self.ledger.claim(
            self.campaign_id,
            self.kind,
            [(r.email, r.groups, r.message_id) for r in chunk],
            self.run_id,
            self.lease,
        )
        won = {claim.key for claim in claims}
        deliveries = self.transport.send_batch([r.outgoing() for r in chunk if r.key in won])
        self.ledger.settle(self.run_id, [Outcome(d.key, d.status, d.detail) for d in deliveries])
        email_of = {r.key: r.email for r in chunk}
        refused = [d for d in deliveries if d.suppress]
        failed = [d for d in deliveries if d.status == "failed"]
        if failed and self.tracker is not None:
            self.tracker.apply(self._refusals(failed, email_of))
        return BatchReport(
            counts=Counter(d.status for d in deliveries),
            possible_duplicates=sum(claim.resent for claim in claims),
            held_elsewhere=len(chunk) - len(claims),
            failures=[
                f"{email_of[d.key]}: {d.detail}"
                for d in deliveries
                if d.status != "sent" and d.detail != NOT_SENT
            ],
            refused_addresses=[email_of[d.key] for d in refused],
        )

    def _refusals(self, failed: list[Delivery], email_of: dict[str, str]) -> list[TrackedEvent]:
        """Bounce events for messages refused at send time: ``hard`` when the address was
        the cause, ``block`` for a 5.7.x policy refusal, unclassified otherwise."""
        name = getattr(self.transport, "name", "smtp")
        source = name if name in SOURCES else "smtp"
        now = dt.datetime.now(dt.UTC)
        events = []
        for delivery in failed:
            status = enhanced_status(delivery.detail)
            bounce_class: BounceClass | None = None
            if delivery.suppress:
                bounce_class = "hard"
            elif status.startswith("5.7."):
                bounce_class = "block"
            detail = {"stage": "send", "reply": redact(delivery.detail)[:500]}
            if status:
                detail["status"] = status
            events.append(
                TrackedEvent(
                    source=source,
                    source_event_id=f"send/{delivery.key}",
                    type="bounced",
                    occurred_at=now,
                    delivery_key=delivery.key,
                    recipient=email_of[delivery.key],
                    bounce_class=bounce_class,
                    detail=detail,
                )
            )
        return events
