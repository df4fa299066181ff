"""What a send did, per stakeholder group, as staff want to read it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from listonosz.contacts.groups import group_label
from listonosz.contacts.merge import MergeResult
from listonosz.sending.batch import BatchReport
from listonosz.sending.pipeline import Plan
from listonosz.stopping import PAUSED, Stop
from listonosz.store import DEFERRED, FAILED, SENDING, SENT, Ledger


@dataclass
class SendReport:
    """The outcome of one run: this run's counts, the ledger's totals, and a table per group."""

    campaign_id: str
    kind: str
    audience: int
    already_sent: int
    this_run: Counter[str]
    possible_duplicates: int  # taken over by this run
    possible_duplicates_ever: int  # taken over by any run of this message kind
    held_elsewhere: int
    ledger_totals: Counter[str]
    rejected_rows: list[str]
    failures: list[str]
    suppressed: int = 0
    without_consent: int = 0
    warnings: int = 0
    conflicts: int = 0
    refused_addresses: list[str] = field(default_factory=list)
    groups: list[dict[str, object]] = field(default_factory=list)
    planned: int = 0  # recipients this run set out to send to
    sent_by: Counter[str] = field(default_factory=Counter)  # per worker, runs on workers
    stopped: str = ""  # why the run stopped early: SIGNALLED, CANCELLED or PAUSED
    stopped_by: str = ""  # e.g. the signal's name

    @property
    def nothing_to_send(self) -> bool:
        return not self.this_run and not self.stopped

    @property
    def not_yet_sent(self) -> int:
        """Recipients of this run whose message has not left (nor failed for good)."""
        return self.planned - self.this_run.get(SENT, 0) - self.this_run.get(FAILED, 0)

    def stop_line(self) -> str:
        """One line for a run that stopped early, saying how to go on; "" for a whole run."""
        if not self.stopped:
            return ""
        counts = f"{self.this_run.get(SENT, 0)} sent, {self.not_yet_sent} not yet sent"
        if self.stopped == PAUSED:
            return (
                f"paused: {counts}; `listonosz resume` and run again to continue "
                "(nobody gets the message twice)"
            )
        why = self.stopped_by or self.stopped
        return f"stopped ({why}): {counts}; run again to continue (nobody gets the message twice)"

    def summary(self) -> str:
        """A few lines for a terminal or a log."""
        sent_now = self.this_run.get(SENT, 0)
        lines = [f"Campaign {self.campaign_id}, message {self.kind!r}: audience {self.audience}."]
        if self.stopped:
            lines.append(self.stop_line()[0].upper() + self.stop_line()[1:] + ".")
        if self.nothing_to_send:
            lines.append(
                f"Nothing new to send: all {self.already_sent} recipients are already settled "
                "in the ledger."
            )
        else:
            lines.append(
                f"Sent now: {sent_now}; failed: {self.this_run.get(FAILED, 0)}; "
                f"deferred (retried next run): {self.this_run.get(DEFERRED, 0)}; "
                f"already settled before this run: {self.already_sent}."
            )
        if self.possible_duplicates_ever:
            lines.append(
                f"Possible duplicates: {self.possible_duplicates_ever} message(s) were in flight "
                "when a run stopped and were sent again with the same Message-ID "
                f"({self.possible_duplicates} by this run)."
            )
        if self.sent_by:
            workers = ", ".join(f"{name} {count}" for name, count in sorted(self.sent_by.items()))
            lines.append(
                f"Sent by {len(self.sent_by)} worker(s), in batches they finished: {workers}."
            )
        if self.held_elsewhere:
            lines.append(
                f"Left alone: {self.held_elsewhere} message(s) claimed by another run that is "
                "still sending; a later run settles them if that run stops."
            )
        lines.append(
            "Ledger: "
            + ", ".join(
                f"{status} {self.ledger_totals.get(status, 0)}"
                for status in (SENT, FAILED, DEFERRED, SENDING)
            )
        )
        kept_out = [
            (self.suppressed, "on the suppression list"),
            (self.without_consent, "without consent, which this message needs"),
        ]
        lines.extend(f"Not sent to {count} {why}." for count, why in kept_out if count)
        if self.warnings or self.conflicts:
            lines.append(
                f"Contacts: {self.warnings} warning(s), {self.conflicts} conflicting value(s) "
                "(see the contacts report)."
            )
        if self.refused_addresses:
            lines.append(
                f"Added to the suppression list (address refused): {len(self.refused_addresses)}"
            )
        if self.rejected_rows:
            lines.append(f"Rows left out of the audience: {len(self.rejected_rows)}:")
            lines.extend(f"  {reject}" for reject in self.rejected_rows)
        if self.failures:
            lines.append("Not delivered:")
            lines.extend(f"  {failure}" for failure in self.failures)
        return "\n".join(lines)


def build_report(
    merged: MergeResult,
    plan: Plan,
    batches: list[BatchReport],
    ledger: Ledger,
    stop: Stop | None = None,
) -> SendReport:
    """Combine the merge, the plan, every batch's outcome and the ledger into one report;
    ``stop`` says whether (and why) the run stopped before the end."""
    total = BatchReport()
    for batch in batches:
        total.add(batch)
    audience_per_group = merged.per_group()
    ledger_groups = ledger.group_counts(plan.campaign_id, plan.kind)
    rows = [
        {
            "group": group_label(code),
            "audience": audience_per_group.get(code, 0),
            "sent": ledger_groups.get(code, Counter()).get(SENT, 0),
            "failed": ledger_groups.get(code, Counter()).get(FAILED, 0),
            "deferred": ledger_groups.get(code, Counter()).get(DEFERRED, 0),
        }
        for code in sorted(set(audience_per_group) | set(ledger_groups))
    ]
    return SendReport(
        campaign_id=plan.campaign_id,
        kind=plan.kind,
        audience=plan.audience_size,
        already_sent=plan.already_settled,
        this_run=total.counts,
        possible_duplicates=total.possible_duplicates,
        possible_duplicates_ever=ledger.possible_duplicates(plan.campaign_id, plan.kind),
        held_elsewhere=total.held_elsewhere,
        ledger_totals=ledger.status_counts(plan.campaign_id, plan.kind),
        rejected_rows=[str(reject) for reject in merged.rejects],
        failures=total.failures,
        groups=rows,
        suppressed=len(merged.suppressed),
        without_consent=plan.without_consent,
        warnings=len(merged.warnings),
        conflicts=len(merged.conflicts),
        refused_addresses=total.refused_addresses,
        sent_by=total.sent_by,
        planned=len(plan.recipients),
        stopped=stop.reason if stop else "",
        stopped_by=stop.detail if stop else "",
    )
