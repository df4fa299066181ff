"""Events applied to the store, on SQLite and PostgreSQL: matching, once per source id,
outcome precedence, and the suppression policy (hard, soft within a window, block, complaint)."""

from __future__ import annotations

import datetime as dt
from contextlib import closing

import pytest

from listonosz.store import Ledger, SuppressionList
from listonosz.tracking import Policy, TrackedEvent, Tracker, redact

SECRET = b"test installation secret"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=60)
PEOPLE = ["jan@gmina.example.pl", "ewa@ngo.example.pl", "ola@wp.example.pl"]


@pytest.fixture
def keys(store_url: str) -> dict[str, str]:
    """One sent invitation to each of PEOPLE; their delivery keys by address."""
    with closing(Ledger(store_url)) as ledger:
        rows = [(p, "ngo", f"<{n}.x@rops.example>") for n, p in enumerate(PEOPLE)]
        claims = ledger.claim("c", "invitation", rows, "run", LEASE)
        return {c.email: c.key for c in claims}


def _event(
    n: int, type_: str, key: str | None, cls: str | None = None, **more: object
) -> TrackedEvent:
    return TrackedEvent(
        source="sendgrid",
        source_event_id=f"e{n}",
        type=type_,  # type: ignore[arg-type]
        occurred_at=T0 + dt.timedelta(days=n),
        delivery_key=key,
        bounce_class=cls,  # type: ignore[arg-type]
        **more,  # type: ignore[arg-type]
    )


def _outcome(url: str, key: str) -> str | None:
    with closing(Ledger(url)) as ledger:
        delivery = ledger.delivery(key)
        assert delivery is not None
        return delivery.outcome


def _suppressed(url: str, email: str) -> str | None:
    with closing(SuppressionList(url, SECRET)) as lists:
        entry = lists.lookup(email)
        return entry.reason if entry else None


def test_a_late_delivered_keeps_the_bounce_and_duplicates_count_once(
    store_url: str, keys: dict[str, str]
) -> None:
    jan = keys[PEOPLE[0]]
    with Tracker(store_url, SECRET) as tracker:
        first = tracker.apply(
            [_event(1, "bounced", jan, "hard"), _event(1, "bounced", jan, "hard")]
        )
        late = tracker.apply([_event(2, "delivered", jan)])
    assert (first.recorded, first.duplicates) == (1, 1)
    assert first.suppressed["hard_bounce"] == 1
    assert late.recorded == 1
    assert _outcome(store_url, jan) == "bounced"
    assert _suppressed(store_url, PEOPLE[0]) == "hard_bounce"


def test_a_complaint_is_never_downgraded(store_url: str, keys: dict[str, str]) -> None:
    ewa = keys[PEOPLE[1]]
    with Tracker(store_url, SECRET) as tracker:
        tracker.apply([_event(1, "complained", ewa), _event(2, "bounced", ewa, "soft")])
        tracker.apply([_event(3, "opened", ewa), _event(4, "delivered", ewa)])
    assert _outcome(store_url, ewa) == "complained"
    assert _suppressed(store_url, PEOPLE[1]) == "complaint"


def test_soft_bounces_add_up_within_the_window_and_a_delivery_resets_them(
    store_url: str, keys: dict[str, str]
) -> None:
    ola = keys[PEOPLE[2]]
    policy = Policy(soft_limit=3, soft_window=dt.timedelta(days=30))
    with Tracker(store_url, SECRET, policy) as tracker:
        tracker.apply([_event(1, "bounced", ola, "soft"), _event(2, "bounced", ola, "expired")])
        tracker.apply([_event(3, "delivered", ola)])  # the count starts again
        tracker.apply([_event(4, "bounced", ola, "soft"), _event(5, "bounced", ola, "soft")])
        assert _suppressed(store_url, PEOPLE[2]) is None
        done = tracker.apply([_event(6, "bounced", ola, "soft")])
    assert done.suppressed["soft_bounces"] == 1
    assert _suppressed(store_url, PEOPLE[2]) == "soft_bounces"


def test_a_policy_block_alerts_and_suppresses_nobody(store_url: str, keys: dict[str, str]) -> None:
    jan = keys[PEOPLE[0]]
    with Tracker(store_url, SECRET) as tracker:
        applied = tracker.apply([_event(1, "bounced", jan, "block", detail={"status": "5.7.26"})])
    assert applied.suppressed == {}
    assert "5.7.26" in applied.alerts[0] and "nobody was suppressed" in applied.alerts[0]
    assert _suppressed(store_url, PEOPLE[0]) is None


def test_matching_falls_back_to_the_message_id_and_unmatched_events_are_kept(
    store_url: str, keys: dict[str, str]
) -> None:
    with Tracker(store_url, SECRET) as tracker:
        by_id = tracker.apply([_event(1, "delivered", None, message_id="1.x@rops.example")])
        stranger = tracker.apply(
            [_event(2, "bounced", "f" * 40, "hard", recipient="Obcy@Example.PL")]
        )
        [kept] = tracker.log.of_type("bounced")
    assert by_id.unmatched == 0
    assert _outcome(store_url, keys[PEOPLE[1]]) == "delivered"
    assert stranger.unmatched == 1 and kept.delivery_key is None
    assert _suppressed(store_url, "obcy@example.pl") == "hard_bounce"  # by its address


def test_diagnostics_lose_their_addresses() -> None:
    text = "550 5.1.1 <jan.kowalski@gmina.example.pl>: Recipient address rejected"
    assert redact(text) == "550 5.1.1 <<adres>>: Recipient address rejected"


def test_a_large_batch_is_recorded_once_with_repeats_inside_and_across_batches(
    store_url: str, keys: dict[str, str]
) -> None:
    jan = keys[PEOPLE[0]]
    batch = [_event(n % 700, "delivered", jan) for n in range(1400)]  # each id twice
    with Tracker(store_url, SECRET) as tracker:
        first = tracker.apply(batch)
        again = tracker.apply([*batch[:10], _event(900, "bounced", jan, "soft")])
        stored = tracker.log.for_deliveries([jan])
    assert (first.recorded, first.duplicates) == (700, 700)
    assert (again.recorded, again.duplicates) == (1, 10)
    assert len(stored) == 701
    assert _outcome(store_url, jan) == "bounced"


def test_the_inbox_stores_a_group_and_uses_each_nonce_once(store_url: str) -> None:
    from listonosz.store import Inbox

    with closing(Inbox(store_url)) as inbox:
        first = inbox.put_many(
            [("mailgun", "a", "t1"), ("sendgrid", "b", None), ("mailgun", "c", "t1")]
        )
        second = inbox.put_many([("mailgun", "d", "t1"), ("mailgun", "e", "t2")])
        pending = inbox.pending()
    assert first[0] is not None and first[1] is not None and first[2] is None
    assert second[0] is None and second[1] is not None
    assert [r.body for r in pending] == ["a", "b", "e"]
    assert [r.id for r in pending] == [first[0], first[1], second[1]]
