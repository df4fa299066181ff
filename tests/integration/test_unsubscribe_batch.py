"""Unsubscribes taken together (what the web app does with those that arrive at once), on
SQLite and PostgreSQL: the batch store methods under them, and the same outcome as taking
each alone, in order, whatever the mix of people, scopes, repeats and unknown links."""

from __future__ import annotations

import dataclasses
import datetime as dt
from contextlib import closing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listonosz.store import (
    Addition,
    EventLog,
    Ledger,
    StoredEvent,
    SuppressionList,
    person_key,
)
from listonosz.store.schema import events as events_table
from listonosz.store.schema import suppressions as suppressions_table
from listonosz.tracking import UnsubscribeRequest, unsubscribe_many
from tests.factories import seed_deliveries

SECRET = b"test installation secret"
PEOPLE = ["jan@gmina.example.pl", "ewa@ngo.example.pl", "ola@wp.example.pl"]
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def keys(store_url: str) -> list[str]:
    """An invitation and a newsletter to each of PEOPLE: six delivery keys, person by person."""
    invitations = seed_deliveries(store_url, "c", "invitation", PEOPLE)
    newsletters = seed_deliveries(store_url, "c", "newsletter", PEOPLE)
    return [key for pair in zip(invitations, newsletters, strict=True) for key in pair]


def test_deliveries_of_finds_the_existing_keys_in_one_query(
    store_url: str, keys: list[str]
) -> None:
    with closing(Ledger(store_url)) as ledger:
        found = ledger.deliveries_of([keys[0], keys[3], "0" * 40, keys[0]])
        assert sorted(found) == sorted([keys[0], keys[3]])
        assert found[keys[3]] == ledger.delivery(keys[3])
        assert ledger.deliveries_of([]) == {}


def test_lookup_many_matches_by_keyed_hash_bare_hash_and_address(store_url: str) -> None:
    with closing(SuppressionList(store_url, SECRET)) as lists:
        lists.add(PEOPLE[0], "complaint", source="sendgrid")
        lists.add(PEOPLE[1], "erased")  # the keyed hash only
        with lists.engine.begin() as conn:  # as 0.1 wrote it: a bare SHA-256 key
            conn.execute(
                suppressions_table.insert().values(
                    key="c0ffee" * 10,
                    email=PEOPLE[2],
                    reason="hard_bounce",
                    detail="",
                    added_at=T0,
                    scope="all",
                    source="",
                    key_scheme="sha256",
                )
            )
        asked = [PEOPLE[0].upper(), PEOPLE[1], PEOPLE[2], "nikt@example.pl"]
        found = lists.lookup_many(asked)
        assert sorted(found) == sorted(asked[:3])
        for address in asked[:3]:
            assert found[address] == lists.lookup(address)
        assert found[PEOPLE[1]].email == "" and found[PEOPLE[1]].reason == "erased"
        assert found[PEOPLE[1]].key == person_key(SECRET, PEOPLE[1])


def _table(url: str) -> list[tuple[str, str, str, str, str, str]]:
    with closing(SuppressionList(url, SECRET)) as lists:
        return sorted(
            (e.key, e.email, e.reason, e.detail, e.scope, e.source) for e in lists.entries()
        )


ADDITIONS = [
    Addition(PEOPLE[0], "complaint", "skarga", "all", "sendgrid"),
    Addition(PEOPLE[0], "unsubscribed", "tylko biuletyn", "newsletter", "web"),  # kept out
    Addition(PEOPLE[1], "unsubscribed", "biuletyn", "newsletter", "web"),
    Addition(PEOPLE[1].upper(), "unsubscribed", "wszystko", "all", "web"),  # widens it
    Addition(PEOPLE[2], "unsubscribed", "wszystko", "all", "web"),
    Addition(PEOPLE[2], "unsubscribed", "biuletyn", "newsletter", "web"),  # narrows it
    Addition("nowy@example.pl", "erased", "", "all", "staff"),
]


def _clear(url: str) -> None:
    with closing(EventLog(url)) as log, log.engine.begin() as conn:
        conn.execute(suppressions_table.delete())
        conn.execute(events_table.delete())


@pytest.mark.parametrize("held", [False, True], ids=["empty", "with-entries"])
def test_add_batch_leaves_what_add_one_by_one_leaves(store_url: str, held: bool) -> None:
    results = []
    for way in ("one by one", "batch"):
        _clear(store_url)
        with closing(SuppressionList(store_url, SECRET)) as lists:
            if held:
                lists.add(PEOPLE[1], "hard_bounce", "odbicie", source="postmark")
                lists.add(PEOPLE[2], "unsubscribed", "stare", scope="newsletter")
            if way == "batch":
                entries = lists.add_batch(ADDITIONS)
            else:
                entries = [
                    lists.add(a.email, a.reason, a.detail, scope=a.scope, source=a.source)
                    for a in ADDITIONS
                ]
        results.append(([dataclasses.replace(e, added_at=T0) for e in entries], _table(store_url)))
    assert results[0] == results[1]
    with closing(SuppressionList(store_url, SECRET)) as lists:
        assert lists.add_batch([]) == []


def test_unsubscribe_many_writes_events_and_suppressions_together(
    store_url: str, keys: list[str]
) -> None:
    jan_invitation, jan_newsletter, ewa_invitation = keys[0], keys[1], keys[2]
    with (
        closing(Ledger(store_url)) as ledger,
        closing(EventLog(store_url)) as log,
        closing(SuppressionList(store_url, SECRET)) as lists,
    ):
        done = unsubscribe_many(
            ledger,
            log,
            lists,
            [
                UnsubscribeRequest(jan_invitation, "newsletter", "page"),
                UnsubscribeRequest(jan_newsletter),  # the same person: widens it to all
                UnsubscribeRequest(jan_invitation),  # then nothing left to do
                UnsubscribeRequest("0" * 40),  # a delivery the store does not have
                UnsubscribeRequest(ewa_invitation),
            ],
        )
        assert [(d.found, d.changed, d.scope) for d in done] == [
            (True, True, "newsletter"),
            (True, True, "all"),
            (True, False, "all"),
            (False, False, "all"),
            (True, True, "all"),
        ]
        events = log.of_type("unsubscribed")
        assert [(e.delivery_key, e.detail["scope"], e.detail["how"]) for e in events] == [
            (jan_invitation, "newsletter", "page"),
            (jan_newsletter, "all", "one-click"),
            (ewa_invitation, "all", "one-click"),
        ]
        jan = lists.lookup(PEOPLE[0])
        assert jan is not None and (jan.scope, jan.source) == ("all", "web")
        assert jan.detail == "one-click (c/newsletter)"
        assert unsubscribe_many(ledger, log, lists, []) == []


# Any mix, taken together or one by one: the same answers, events and suppressions. One by
# one is the rule as first written (a delivery, its suppression, an event, a suppression).


def _one_by_one(
    ledger: Ledger, log: EventLog, lists: SuppressionList, asked: UnsubscribeRequest
) -> tuple[bool, bool, str]:
    delivery = ledger.delivery(asked.delivery_key)
    if delivery is None:
        return False, False, asked.scope
    held = lists.lookup(delivery.email)
    if held is not None and held.scope in ("all", asked.scope):
        return True, False, held.scope
    log.record(
        StoredEvent(
            "web",
            f"unsubscribe/{asked.delivery_key}/{asked.scope}",
            "unsubscribed",
            T0,
            asked.delivery_key,
            delivery.campaign,
            detail={"scope": asked.scope, "how": asked.how, "kind": delivery.kind},
        )
    )
    detail = f"{asked.how} ({delivery.campaign}/{delivery.kind})"
    entry = lists.add(delivery.email, "unsubscribed", detail, scope=asked.scope, source="web")
    return True, True, entry.scope


REQUESTS = st.lists(
    st.tuples(
        st.integers(0, 6),  # 6: a delivery nobody has
        st.sampled_from(["all", "newsletter"]),
        st.sampled_from(["one-click", "page"]),
    ),
    max_size=12,
)


@given(requests=REQUESTS)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_together_is_the_same_as_one_by_one(
    tmp_path_factory: pytest.TempPathFactory, requests: list[tuple[int, str, str]]
) -> None:
    outcomes = []
    for way in ("together", "one by one"):
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.sqlite'}"
        invitations = seed_deliveries(url, "c", "invitation", PEOPLE)
        newsletters = seed_deliveries(url, "c", "newsletter", PEOPLE)
        keys = [k for pair in zip(invitations, newsletters, strict=True) for k in pair]
        keys.append("0" * 40)
        asked = [UnsubscribeRequest(keys[n], scope, how) for n, scope, how in requests]
        with (
            closing(Ledger(url)) as ledger,
            closing(EventLog(url)) as log,
            closing(SuppressionList(url, SECRET)) as lists,
        ):
            lists.add(PEOPLE[2], "complaint", "skarga", source="sendgrid")  # never narrowed
            if way == "together":
                done = [
                    (d.found, d.changed, d.scope)
                    for d in unsubscribe_many(ledger, log, lists, asked)
                ]
            else:
                done = [_one_by_one(ledger, log, lists, a) for a in asked]
            events = sorted(
                (e.source_event_id, e.delivery_key or "", str(sorted(e.detail.items())))
                for e in log.of_type("unsubscribed")
            )
            entries = sorted(
                (e.email, e.reason, e.detail, e.scope, e.source) for e in lists.entries()
            )
            outcomes.append((done, events, entries))
    assert outcomes[0] == outcomes[1]
