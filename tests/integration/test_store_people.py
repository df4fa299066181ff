"""The store's tables for what happens after sending, on SQLite and PostgreSQL: events (each
once per source id), participants' answers, suppression scopes and keyed hashes, erasure."""

from __future__ import annotations

import datetime as dt
from contextlib import closing

from listonosz.contacts.model import Contact
from listonosz.store import (
    EventLog,
    Ledger,
    Participants,
    PersonalData,
    StoredEvent,
    SuppressionList,
    person_key,
)
from listonosz.store.schema import suppressions
from listonosz.store.suppression import legacy_key

SECRET = b"test installation secret"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=60)


def _event(source_id: str, key: str | None = "k" * 40, type_: str = "answered") -> StoredEvent:
    return StoredEvent("web", source_id, type_, NOW, key, "c", detail={"answer": "yes"})


def test_an_event_is_kept_once_per_source_id_and_unmatched_ones_are_kept(store_url: str) -> None:
    with closing(EventLog(store_url)) as log:
        assert log.record(_event("a"))
        assert not log.record(_event("a"))  # a retried webhook, a double click
        assert log.record(_event("b", key=None, type_="bounced"))  # matches no delivery
        assert [e.source_event_id for e in log.for_deliveries(["k" * 40])] == ["a"]
        [unmatched] = log.of_type("bounced")
        assert unmatched.delivery_key is None and unmatched.detail == {"answer": "yes"}


def test_an_answer_replaces_the_last_one(store_url: str) -> None:
    with closing(Participants(store_url)) as people:
        assert people.get("c", "jan@gmina.example.pl") is None
        people.answer("c", "jan@gmina.example.pl", "yes", "web", NOW)
        later = people.answer("c", "jan@gmina.example.pl", "no", "staff", NOW)
        assert (later.answer, later.answer_source) == ("no", "staff")
        assert len(people.of_campaign("c")) == 1


def test_scopes_keep_newsletters_or_everything_away(store_url: str) -> None:
    contacts = [Contact("a@x.pl"), Contact("b@x.pl"), Contact("c@x.pl")]
    with closing(SuppressionList(store_url, SECRET)) as lists:
        lists.add("a@x.pl", "unsubscribed", scope="newsletter", source="web")
        lists.add("b@x.pl", "complaint")
        kept, _ = lists.filter(contacts)
        assert [c.email for c in kept] == ["a@x.pl", "c@x.pl"]
        kept, gone = lists.filter(contacts, newsletter=True)
        assert [c.email for c in kept] == ["c@x.pl"]
        assert {(s.email, s.reason) for s in gone} == {
            ("a@x.pl", "unsubscribed"),
            ("b@x.pl", "complaint"),
        }
        # a newsletter-only choice never narrows a complaint; it may narrow an unsubscribe
        lists.add("b@x.pl", "unsubscribed", scope="newsletter")
        complaint = lists.lookup("b@x.pl")
        assert complaint is not None and complaint.reason == "complaint"
        lists.add("a@x.pl", "unsubscribed")  # widened to everything
        widened = lists.lookup("A@x.pl")
        assert widened is not None and widened.scope == "all"


def test_erased_people_stay_out_by_keyed_and_by_legacy_hash(store_url: str) -> None:
    with closing(SuppressionList(store_url, SECRET)) as lists:
        lists.add("nowy@x.pl", "erased")
        [entry] = lists.entries()
        assert entry.email == "" and entry.key == person_key(SECRET, "nowy@x.pl")
        assert entry.key != legacy_key("nowy@x.pl")  # not a bare hash anyone can compute
        with lists.engine.begin() as conn:  # as 0.1 erased someone: a bare SHA-256 key
            conn.execute(
                suppressions.insert().values(
                    key=legacy_key("stary@x.pl"),
                    email=None,
                    reason="erased",
                    detail="",
                    added_at=NOW,
                    scope="all",
                    source="",
                    key_scheme="sha256",
                )
            )
        contacts = [Contact("nowy@x.pl"), Contact("stary@x.pl"), Contact("inny@x.pl")]
        kept, _ = lists.filter(contacts)
        assert [c.email for c in kept] == ["inny@x.pl"]
    with closing(SuppressionList(store_url, b"another secret")) as other:
        kept, _ = other.filter(contacts)  # the keyed hash means nothing under another secret
        assert [c.email for c in kept] == ["nowy@x.pl", "inny@x.pl"]


def test_erasure_clears_every_table_of_one_person_only(store_url: str) -> None:
    person, other = "jan@gmina.example.pl", "ewa@gmina.example.pl"
    with (
        closing(Ledger(store_url)) as ledger,
        closing(EventLog(store_url)) as log,
        closing(Participants(store_url)) as people,
        closing(PersonalData(store_url, SECRET)) as data,
    ):
        claims = ledger.claim(
            "c", "invitation", [(person, "", "<1>"), (other, "", "<2>")], "r", LEASE
        )
        keys = {c.email: c.key for c in claims}
        log.record(_event("1", keys[person]))
        log.record(_event("2", keys[other]))
        people.answer("c", person, "yes", "web", NOW)
        people.answer("c", other, "no", "web", NOW)
        held = data.data(person)
        assert [d.key for d in held.deliveries] == [keys[person]]
        assert [e.source_event_id for e in held.events] == ["1"]
        erased = data.erase(person)
        assert (erased.deliveries, erased.events, erased.participants) == (1, 1, 1)
        after = data.data(person)
        assert after.deliveries == after.events == after.participants == []
        assert after.suppression is not None and after.suppression.reason == "erased"
        assert ledger.delivery(keys[other]) is not None  # the other person is untouched
        assert people.get("c", other) is not None
        [erasure] = log.of_type("erased")
        assert erasure.detail["person"] == person_key(SECRET, person)
        assert person not in repr(erasure)
