"""The delivery ledger: claim, settle, reclaim after a crash, and two runs at once.

Every test that takes ``ledger`` or ``store_url`` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing

import pytest
from sqlalchemy import select

from listonosz.store.ledger import Claim, Ledger, Outcome, deliveries, delivery_key

CAMPAIGN, KIND = "ekonomia-spoleczna-2016", "invitation"
FRESH = dt.timedelta(minutes=10)
STALE = dt.timedelta(0)


def recipients(*emails: str, groups: str = "jst") -> list[tuple[str, str, str]]:
    return [(email, groups, f"<{i}@rops-bialystok.example>") for i, email in enumerate(emails)]


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    ledger = Ledger(store_url)
    yield ledger
    ledger.close()


def rows(ledger: Ledger) -> dict[str, dict[str, object]]:
    with ledger.engine.connect() as conn:
        return {row.email: row._asdict() for row in conn.execute(select(deliveries))}


def test_claim_inserts_rows_as_sending(ledger: Ledger) -> None:
    claims = ledger.claim(CAMPAIGN, KIND, recipients("a@x.pl", "b@x.pl"), "run-1", FRESH)
    assert sorted(claims, key=lambda c: c.email) == [
        Claim(delivery_key(CAMPAIGN, KIND, "a@x.pl"), "a@x.pl", False),
        Claim(delivery_key(CAMPAIGN, KIND, "b@x.pl"), "b@x.pl", False),
    ]
    stored = rows(ledger)
    assert {r["status"] for r in stored.values()} == {"sending"}
    assert {r["claim_token"] for r in stored.values()} == {"run-1"}
    assert stored["a@x.pl"]["message_id"] == "<0@rops-bialystok.example>"
    assert stored["a@x.pl"]["attempts"] == 1
    assert ledger.status_counts(CAMPAIGN, KIND) == Counter(sending=2)
    assert ledger.settled_emails(CAMPAIGN, KIND) == set()


def test_claim_of_nothing(ledger: Ledger) -> None:
    assert ledger.claim(CAMPAIGN, KIND, [], "run-1", FRESH) == []


def test_fresh_claim_is_not_won_by_another_run(ledger: Ledger) -> None:
    batch = recipients("a@x.pl", "b@x.pl")
    assert len(ledger.claim(CAMPAIGN, KIND, batch, "run-1", FRESH)) == 2
    assert ledger.claim(CAMPAIGN, KIND, batch, "run-2", FRESH) == []
    assert {r["claim_token"] for r in rows(ledger).values()} == {"run-1"}


def test_settle_marks_sent_and_failed(ledger: Ledger) -> None:
    claims = ledger.claim(CAMPAIGN, KIND, recipients("a@x.pl", "b@x.pl"), "run-1", FRESH)
    key = {c.email: c.key for c in claims}
    ledger.settle(
        "run-1",
        [Outcome(key["a@x.pl"], "sent"), Outcome(key["b@x.pl"], "failed", "550 no such user")],
    )
    stored = rows(ledger)
    assert stored["a@x.pl"]["status"] == "sent"
    assert stored["a@x.pl"]["settled_at"] is not None
    assert stored["b@x.pl"]["detail"] == "550 no such user"
    assert ledger.settled_emails(CAMPAIGN, KIND) == {"a@x.pl", "b@x.pl"}
    assert ledger.settled_emails(CAMPAIGN, "reminder") == set()
    assert ledger.settled_emails("another-campaign", KIND) == set()
    # settled rows are never claimed again, not even when stale
    assert ledger.claim(CAMPAIGN, KIND, recipients("a@x.pl", "b@x.pl"), "run-2", STALE) == []


def test_stale_sending_row_is_reclaimed_as_resent(ledger: Ledger) -> None:
    batch = recipients("a@x.pl", "b@x.pl")
    first = ledger.claim(CAMPAIGN, KIND, batch, "crashed-run", FRESH)
    second = ledger.claim(CAMPAIGN, KIND, batch, "run-2", STALE)
    assert {c.key for c in second} == {c.key for c in first}
    assert all(c.resent for c in second)
    stored = rows(ledger)
    assert {r["claim_token"] for r in stored.values()} == {"run-2"}
    assert {r["attempts"] for r in stored.values()} == {2}
    assert {r["status"] for r in stored.values()} == {"sending"}
    # the message keeps its Message-ID, so clients fold the resend
    assert stored["a@x.pl"]["message_id"] == "<0@rops-bialystok.example>"
    assert ledger.possible_duplicates(CAMPAIGN, KIND) == 2


def test_deferred_row_is_reclaimed_without_resent(ledger: Ledger) -> None:
    (claim,) = ledger.claim(CAMPAIGN, KIND, recipients("a@x.pl"), "run-1", FRESH)
    ledger.settle("run-1", [Outcome(claim.key, "deferred", "451 try later")])
    assert ledger.settled_emails(CAMPAIGN, KIND) == set()  # deferred is not settled for good
    again = ledger.claim(CAMPAIGN, KIND, recipients("a@x.pl"), "run-2", FRESH)
    assert again == [Claim(claim.key, "a@x.pl", False)]
    assert rows(ledger)["a@x.pl"]["attempts"] == 2
    assert ledger.possible_duplicates(CAMPAIGN, KIND) == 0  # a 4xx means it never left


def test_settle_by_a_run_without_the_claim_changes_nothing(ledger: Ledger) -> None:
    batch = recipients("a@x.pl")
    (claim,) = ledger.claim(CAMPAIGN, KIND, batch, "crashed-run", FRESH)
    ledger.settle("someone-else", [Outcome(claim.key, "sent")])
    assert rows(ledger)["a@x.pl"]["status"] == "sending"
    # the crashed run wakes up after its row was taken over: its late settle is ignored too
    ledger.claim(CAMPAIGN, KIND, batch, "run-2", STALE)
    ledger.settle("crashed-run", [Outcome(claim.key, "failed", "late")])
    stored = rows(ledger)["a@x.pl"]
    assert (stored["status"], stored["claim_token"], stored["detail"]) == ("sending", "run-2", "")
    assert ledger.settled_emails(CAMPAIGN, KIND) == set()


def test_status_and_group_counts(ledger: Ledger) -> None:
    claims = ledger.claim(
        CAMPAIGN,
        KIND,
        [
            ("a@x.pl", "jst;ngo", "<a@x>"),
            ("b@x.pl", "jst", "<b@x>"),
            ("c@x.pl", "ngo", "<c@x>"),
            ("d@x.pl", "", "<d@x>"),
        ],
        "run-1",
        FRESH,
    )
    key = {c.email: c.key for c in claims}
    ledger.settle(
        "run-1",
        [
            Outcome(key["a@x.pl"], "sent"),
            Outcome(key["b@x.pl"], "failed"),
            Outcome(key["c@x.pl"], "deferred"),
        ],
    )
    ledger.claim(CAMPAIGN, "reminder", recipients("a@x.pl"), "run-1", FRESH)  # another kind
    assert ledger.status_counts(CAMPAIGN, KIND) == Counter(sent=1, failed=1, deferred=1, sending=1)
    assert ledger.group_counts(CAMPAIGN, KIND) == {
        "jst": Counter(sent=1, failed=1),
        "ngo": Counter(sent=1, deferred=1),
        "—": Counter(sending=1),
    }
    assert ledger.status_counts(CAMPAIGN, "reminder") == Counter(sending=1)


def test_delivery_key() -> None:
    email = "jan.kowalczyk@ug-choroszcz.example.pl"
    key = delivery_key(CAMPAIGN, KIND, email)
    assert key == delivery_key(CAMPAIGN, KIND, email)
    assert len(key) <= 64 and key.isascii() and key.isalnum()
    assert key != delivery_key(CAMPAIGN, "reminder", email)
    assert key != delivery_key("inna-kampania", KIND, email)
    assert key != delivery_key(CAMPAIGN, KIND, "jan.kowalczyk@ug-choroszcz.example")
    for part in (email, "jan.kowalczyk", "ug-choroszcz", "@"):
        assert part not in key


def test_delivery_key_is_stable_across_processes() -> None:
    # the key is a hash of its parts, not of Python's per-process hash()
    import hashlib

    expected = hashlib.sha256(f"{CAMPAIGN}\x1f{KIND}\x1fa@x.pl".encode()).hexdigest()[:40]
    assert delivery_key(CAMPAIGN, KIND, "a@x.pl") == expected


def test_ledger_reopened_keeps_its_rows(store_url: str) -> None:
    url = store_url
    first = Ledger(url)
    (claim,) = first.claim(CAMPAIGN, KIND, recipients("a@x.pl"), "run-1", FRESH)
    first.settle("run-1", [Outcome(claim.key, "sent")])
    first.close()
    second = Ledger(url)
    try:
        assert second.settled_emails(CAMPAIGN, KIND) == {"a@x.pl"}
    finally:
        second.close()


def race(url: str, batch: list[tuple[str, str, str]]) -> dict[str, list[Claim]]:
    """What run-1 and run-2 win when they claim ``batch`` at the same moment."""
    start = threading.Barrier(2)
    won: dict[str, list[Claim]] = {}
    errors: list[BaseException] = []

    def run(run_id: str) -> None:
        ledger = Ledger(url)
        try:
            start.wait(timeout=10)
            won[run_id] = ledger.claim(CAMPAIGN, KIND, batch, run_id, FRESH)
        except BaseException as exc:
            errors.append(exc)
        finally:
            ledger.close()

    threads = [threading.Thread(target=run, args=(f"run-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    keys_1 = {c.key for c in won["run-1"]}
    keys_2 = {c.key for c in won["run-2"]}
    assert not keys_1 & keys_2
    assert keys_1 | keys_2 == {delivery_key(CAMPAIGN, KIND, email) for email, _, _ in batch}
    assert not any(c.resent for c in won["run-1"] + won["run-2"])
    ledger = Ledger(url)
    try:
        assert ledger.status_counts(CAMPAIGN, KIND) == Counter(sending=len(batch))
        owners = Counter(r["claim_token"] for r in rows(ledger).values())
        assert owners == Counter({"run-1": len(keys_1), "run-2": len(keys_2)})
    finally:
        ledger.close()
    return won


@pytest.mark.parametrize("round_", range(3))
def test_two_runs_at_once_never_win_the_same_row(store_url: str, round_: int) -> None:
    Ledger(store_url).close()  # create the schema before the race
    race(store_url, recipients(*(f"osoba{i}@example.pl" for i in range(200))))


@pytest.mark.parametrize("round_", range(3))
def test_two_runs_at_once_never_take_over_the_same_deferred_row(
    store_url: str, round_: int
) -> None:
    batch = recipients(*(f"osoba{i}@example.pl" for i in range(200)))
    with closing(Ledger(store_url)) as ledger:
        claims = ledger.claim(CAMPAIGN, KIND, batch, "run-0", FRESH)
        ledger.settle("run-0", [Outcome(c.key, "deferred", "451 try later") for c in claims])
    won = race(store_url, batch)
    with closing(Ledger(store_url)) as ledger:
        assert {r["attempts"] for r in rows(ledger).values()} == {2}
    assert len(won["run-1"]) + len(won["run-2"]) == len(batch)


def test_a_retried_task_of_the_same_run_resends_its_rows_as_possible_duplicates(
    ledger: Ledger,
) -> None:
    batch = recipients("a@x.pl", "b@x.pl")
    ledger.claim(CAMPAIGN, KIND, batch, "run-1", FRESH)
    again = ledger.claim(CAMPAIGN, KIND, batch, "run-1", FRESH)
    assert len(again) == 2 and all(c.resent for c in again)


def test_a_live_run_keeps_its_claims_and_a_finished_one_gives_them_up(ledger: Ledger) -> None:
    batch = recipients("a@x.pl")
    with ledger.lease("run-1", interval=0.05):
        ledger.claim(CAMPAIGN, KIND, batch, "run-1", FRESH)
        time.sleep(0.4)  # much longer than the lease below: only the heartbeat keeps it
        assert ledger.claim(CAMPAIGN, KIND, batch, "run-2", dt.timedelta(seconds=0.2)) == []
    (taken,) = ledger.claim(CAMPAIGN, KIND, batch, "run-2", FRESH)  # run-1 has finished
    assert taken.resent


def test_a_silent_run_loses_its_claims_after_the_lease(ledger: Ledger) -> None:
    batch = recipients("a@x.pl")
    ledger.claim(CAMPAIGN, KIND, batch, "killed-run", FRESH)
    assert ledger.claim(CAMPAIGN, KIND, batch, "run-2", dt.timedelta(seconds=0.3)) == []
    time.sleep(0.4)
    (taken,) = ledger.claim(CAMPAIGN, KIND, batch, "run-2", dt.timedelta(seconds=0.3))
    assert taken.resent and taken.email == "a@x.pl"
