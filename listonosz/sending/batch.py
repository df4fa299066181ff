"""Claim, send, settle: what happens to prepared messages, a chunk at a time."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from listonosz.sending.prepare import Ready
from listonosz.stopping import PAUSED, Stop
from listonosz.store import DEFAULT_LEASE, Ledger, Outcome, SuppressionList
from listonosz.transports import Transport
from listonosz.transports.base import NOT_SENT


@dataclass
class BatchReport:
    """What sending did: counts per status, resends of messages a crash left in flight, rows
    another live run holds, and every failure with its reason."""

    counts: Counter[str] = field(default_factory=Counter)
    possible_duplicates: int = 0
    held_elsewhere: int = 0
    failures: list[str] = field(default_factory=list)
    refused_addresses: list[str] = field(default_factory=list)

    def add(self, other: BatchReport) -> None:
        self.counts.update(other.counts)
        self.possible_duplicates += other.possible_duplicates
        self.held_elsewhere += other.held_elsewhere
        self.failures.extend(other.failures)
        self.refused_addresses.extend(other.refused_addresses)


class BatchSender:
    """Sends batches of prepared messages of one message kind: claim, send, settle.

    Rows are claimed a chunk at a time (the transport's ``claim_chunk``: one request's worth
    for mail APIs, a few messages for SMTP), just before they are sent, and settled right after;
    a crash leaves at most one chunk per sending thread in flight. Before each claim it asks
    whether the run was told to stop (``stop``) or staff paused the campaign (``paused``): then
    it claims nothing more, and the transport leaves unsent what it has not begun to send.
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
        suppression: SuppressionList | None = None,
        stop: Stop | None = None,
        paused: Callable[[], bool] | None = None,
    ) -> None:
        self.campaign_id = campaign_id
        self.stop = stop or Stop()
        self.paused = paused
        self.kind = kind
        self.suppression = suppression
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
        if refused and self.suppression is not None:
            for delivery in refused:
                self.suppression.add(email_of[delivery.key], "hard_bounce", delivery.detail)
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
