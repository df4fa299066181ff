"""The summary staff read after a run: its figures and which lines it has."""

from __future__ import annotations

from collections import Counter

from listonosz.sending import SendReport


def _report(this_run: dict[str, int], already_sent: int, held_elsewhere: int = 0) -> SendReport:
    return SendReport(
        campaign_id="ekonomia-spoleczna-2016",
        kind="invitation",
        audience=86,
        already_sent=already_sent,
        this_run=Counter(this_run),
        possible_duplicates=0,
        possible_duplicates_ever=0,
        held_elsewhere=held_elsewhere,
        ledger_totals=Counter(sent=already_sent + this_run.get("sent", 0)),
        rejected_rows=[],
        failures=[],
    )


def test_a_rerun_with_nothing_to_do_says_how_many_are_settled() -> None:
    assert _report({}, already_sent=86).summary().splitlines() == [
        "Campaign ekonomia-spoleczna-2016, message 'invitation': audience 86.",
        "Nothing new to send: all 86 recipients are already settled in the ledger.",
        "Ledger: sent 86, failed 0, deferred 0, sending 0",
    ]


def test_messages_another_run_holds_are_reported_as_left_alone() -> None:
    lines = _report({"sent": 80, "deferred": 1}, already_sent=2, held_elsewhere=3).summary()
    assert lines.splitlines()[1:3] == [
        "Sent now: 80; failed: 0; deferred (retried next run): 1; "
        "already settled before this run: 2.",
        "Left alone: 3 message(s) claimed by another run that is still sending; "
        "a later run settles them if that run stops.",
    ]
