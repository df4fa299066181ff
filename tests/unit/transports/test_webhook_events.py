"""Each provider's webhook events read into the normalised vocabulary: types and bounce classes
as issue 14 lists them, the ledger key from each provider's metadata, no address in a detail."""

from __future__ import annotations

import datetime as dt
import json

import orjson
import pytest

from listonosz.transports import brevo, mailgun, postmark, sendgrid

ADDRESS = "jan.kowalski@gmina.example.pl"
KEY = "a" * 40


def _sendgrid(**event: object) -> list[tuple[str, str | None]]:
    base = {"email": ADDRESS, "timestamp": 1764547200, "sg_event_id": "e1", "ledger_key": KEY}
    parsed = sendgrid.parse_webhook(orjson.dumps([{**base, **event}]).decode())
    assert parsed.problems == []
    return [(e.type, e.bounce_class) for e in parsed.events]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"event": "delivered"}, ("delivered", None)),
        ({"event": "bounce", "type": "bounce", "status": "5.1.1"}, ("bounced", "hard")),
        ({"event": "bounce", "type": "blocked", "status": "4.0.0"}, ("bounced", "block")),
        ({"event": "bounce", "type": "bounce", "reason": "550 5.7.26 DMARC"}, ("bounced", "block")),
        ({"event": "dropped", "reason": "Bounced Address"}, ("rejected", None)),
        ({"event": "dropped", "reason": "Exceeded maximum message size"}, ("rejected", "soft")),
        ({"event": "spamreport"}, ("complained", None)),
        ({"event": "deferred"}, ("deferred", None)),
        ({"event": "group_unsubscribe"}, ("unsubscribed", None)),
    ],
)
def test_sendgrid_events(event: dict[str, object], expected: tuple[str, str | None]) -> None:
    assert _sendgrid(**event) == [expected]


def _mailgun(**data: object) -> tuple[str, str | None]:
    base = {
        "id": "m1",
        "timestamp": 1764547200.5,
        "recipient": ADDRESS,
        "user-variables": {"ledger-key": KEY},
        "message": {"headers": {"message-id": "x@y"}},
    }
    parsed = mailgun.parse_webhook(json.dumps({"signature": {}, "event-data": {**base, **data}}))
    [event] = parsed.events
    assert event.delivery_key == KEY and event.message_id == "x@y"
    return event.type, event.bounce_class


def test_mailgun_failures_by_severity() -> None:
    status = {"code": 550, "message": f"5.1.1 <{ADDRESS}> does not exist"}
    assert _mailgun(event="failed", severity="permanent", **{"delivery-status": status}) == (
        "bounced",
        "hard",
    )
    assert _mailgun(event="failed", severity="temporary") == ("deferred", "soft")
    blocked = {"code": 550, "message": "5.7.1 rejected: reputation"}
    assert _mailgun(event="failed", severity="permanent", **{"delivery-status": blocked}) == (
        "bounced",
        "block",
    )
    assert _mailgun(event="failed", severity="permanent", reason="old") == ("bounced", "expired")
    assert _mailgun(event="complained") == ("complained", None)
    assert _mailgun(event="delivered") == ("delivered", None)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("HardBounce", ("bounced", "hard")),
        ("SoftBounce", ("bounced", "soft")),
        ("Transient", ("bounced", "soft")),
        ("Blocked", ("bounced", "block")),
        ("SpamComplaint", ("complained", None)),
        ("AutoResponder", ("autoresponded", None)),
        ("VirusNotification", ("bounced", None)),
    ],
)
def test_postmark_bounce_types(kind: str, expected: tuple[str, str | None]) -> None:
    record = {
        "RecordType": "SpamComplaint" if kind == "SpamComplaint" else "Bounce",
        "ID": 42,
        "Type": kind,
        "Email": ADDRESS,
        "BouncedAt": "2026-12-01T09:00:00.1234567-05:00",
        "Details": f"smtp;550 <{ADDRESS}> unknown",
        "Metadata": {"ledger_key": KEY},
    }
    [event] = postmark.parse_webhook(json.dumps(record)).events
    assert (event.type, event.bounce_class) == expected
    assert event.occurred_at == dt.datetime(2026, 12, 1, 14, 0, 0, 123456, tzinfo=dt.UTC)
    assert event.delivery_key == KEY and ADDRESS not in json.dumps(dict(event.detail))


def test_postmark_subscription_change_is_an_unsubscribe_only_when_the_person_asked() -> None:
    change = {
        "RecordType": "SubscriptionChange",
        "MessageID": "u1",
        "Recipient": ADDRESS,
        "ChangedAt": "2026-12-01T09:00:00Z",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Metadata": {"ledger_key": KEY},
    }
    assert [e.type for e in postmark.parse_webhook(json.dumps(change)).events] == ["unsubscribed"]
    after_bounce = {**change, "SuppressionReason": "HardBounce"}
    assert postmark.parse_webhook(json.dumps(after_bounce)).ignored == 1


def test_brevo_batched_and_single_and_a_hash_for_an_id() -> None:
    custom = json.dumps({"ledger_key": KEY, "campaign": "c"})
    hard = {
        "event": "hard_bounce",
        "email": ADDRESS,
        "ts_epoch": 1764579600000,
        "message-id": "<m@relay>",
        "X-Mailin-custom": custom,
        "reason": f"550 5.1.1 <{ADDRESS}>: unknown",
    }
    spam = {**hard, "event": "spam", "reason": ""}
    blocked = {**hard, "reason": "550 5.7.1 sender reputation"}
    batch = brevo.parse_webhook(json.dumps([hard, spam, blocked, {"event": "list_addition"}]))
    assert [(e.type, e.bounce_class) for e in batch.events] == [
        ("bounced", "hard"),
        ("complained", None),
        ("bounced", "block"),
    ]
    assert batch.ignored == 1
    [single] = brevo.parse_webhook(json.dumps(hard)).events
    assert single.source_event_id == batch.events[0].source_event_id  # the same event, once
    assert single.delivery_key == KEY
    assert single.occurred_at == dt.datetime(2025, 12, 1, 9, 0, tzinfo=dt.UTC)
    assert ADDRESS not in json.dumps(dict(single.detail))


def test_a_malformed_event_is_a_problem_of_its_own() -> None:
    good = {"event": "delivered", "email": ADDRESS, "timestamp": 1, "sg_event_id": "g"}
    parsed = sendgrid.parse_webhook(json.dumps([good, {"event": "delivered"}, 7, good]))
    assert len(parsed.events) == 2
    assert parsed.problems == [
        "event 1: missing field 'sg_event_id'",
        "event 2: not a JSON object",
    ]
    assert sendgrid.parse_webhook("{not json").problems[0].startswith("body: the body is not JSON")
