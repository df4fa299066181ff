"""Telling bounce-mailbox messages apart: DSNs (whatever else they say), complaints,
auto-replies in Polish and English, non-standard bounces (low confidence), the rest; and
naming the delivery by signed VERP address, envelope id or the original's Message-ID."""

from __future__ import annotations

import datetime as dt

import pytest

from listonosz.tracking.bounces import classify
from listonosz.tracking.mailbox import tracked_events
from listonosz.tracking.verp import verp_address
from tests import bouncemail

SECRET = b"installation secret"
KEY = "a1" * 20
VERP = verp_address("bounces@zwroty.example.pl", KEY, SECRET)
RCPT = "jan.nowak@gmina.example.pl"
MESSAGE_ID = f"<{KEY}@rops-bialystok.example>"
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def test_a_hard_bounce_names_its_delivery_by_the_signed_return_path() -> None:
    found = classify(bouncemail.dsn(VERP, RCPT, message_id=MESSAGE_ID), SECRET)
    assert (found.kind, found.how, found.confidence) == ("hard", "dsn", "high")
    assert (found.delivery_key, found.signed, found.forged) == (KEY, True, False)
    assert found.recipients == [RCPT]
    assert found.status == "5.1.1"
    assert found.diagnostic.startswith("550 5.1.1 <jan.nowak@")
    assert found.message_id == MESSAGE_ID
    assert found.date == dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC)


def test_a_dsn_that_says_auto_replied_and_looks_like_an_out_of_office_is_still_a_dsn() -> None:
    raw = bouncemail.dsn(VERP, RCPT, auto_submitted=True).replace(
        b"Subject: Undelivered Mail Returned to Sender",
        "Subject: Automatyczna odpowiedź".encode(),
    )
    assert classify(raw, SECRET).kind == "hard"


@pytest.mark.parametrize(
    ("action", "status", "diagnostic", "kind", "reported"),
    [
        ("failed", "5.1.1", None, "hard", "5.1.1"),
        ("failed", "5.2.1", None, "hard", "5.2.1"),
        ("failed", "5.2.2", None, "soft", "5.2.2"),
        ("failed", "5.7.26", None, "block", "5.7.26"),
        ("failed", "5.7.515", None, "block", "5.7.515"),
        (
            "failed",
            "5.0.0",
            "smtp; 550 5.7.1 Service unavailable, client host blocked",
            "block",
            "5.7.1",
        ),
        ("failed", "4.2.2", None, "expired", "4.2.2"),
        ("failed", "5.4.7", "X-Postfix; delivery time expired", "expired", "5.4.7"),
        ("delayed", "4.4.1", "X-Postfix; connect to mx: Connection refused", "delayed", "4.4.1"),
    ],
)
def test_each_status_has_its_kind(
    action: str, status: str, diagnostic: str | None, kind: str, reported: str
) -> None:
    raw = bouncemail.dsn(VERP, RCPT, action=action, status=status, diagnostic=diagnostic)
    found = classify(raw, SECRET)
    assert (found.kind, found.status) == (kind, reported)


def test_a_report_about_several_recipients_takes_the_gravest_kind() -> None:
    raw = bouncemail.dsn(
        VERP,
        RCPT,
        action="delayed",
        status="4.2.2",
        extra_recipients=(
            ("ewa@ngo.example.pl", "failed", "5.1.1"),
            ("x@y.example.pl", "relayed", "2.0.0"),
        ),
    )
    found = classify(raw, SECRET)
    assert found.kind == "hard"
    assert [(e.recipient, e.kind) for e in found.entries] == [
        (RCPT, "delayed"),
        ("ewa@ngo.example.pl", "hard"),
    ]


def test_without_verp_the_envelope_id_then_the_original_message_id_name_the_delivery() -> None:
    plain_address = "bounces@zwroty.example.pl"
    by_envid = classify(bouncemail.dsn(plain_address, RCPT, envelope_id=KEY), SECRET)
    assert (by_envid.delivery_key, by_envid.signed, by_envid.forged) == (KEY, False, False)
    # The ids only in text/rfc822-headers (no ENVID): the Message-ID still comes back.
    headers_only = classify(bouncemail.dsn(plain_address, RCPT, message_id=MESSAGE_ID), SECRET)
    assert (headers_only.delivery_key, headers_only.message_id) == (None, MESSAGE_ID)
    whole = classify(
        bouncemail.dsn(plain_address, RCPT, message_id=MESSAGE_ID, original="message"), SECRET
    )
    assert whole.message_id == MESSAGE_ID


def test_the_return_path_inside_the_returned_original_counts_too() -> None:
    raw = bouncemail.dsn("postmaster@rops-bialystok.example", RCPT, return_path=VERP)
    assert classify(raw, SECRET).delivery_key == KEY


def test_a_forged_return_path_names_nobody() -> None:
    forged = VERP.replace(KEY, "b2" * 20)
    found = classify(bouncemail.dsn(forged, RCPT, envelope_id="b2" * 20), SECRET)
    assert (found.kind, found.delivery_key, found.signed, found.forged) == (
        "hard",
        None,
        False,
        True,
    )


def test_an_abuse_report_is_a_complaint() -> None:
    raw = bouncemail.arf("fbl@rops-bialystok.example", RCPT, original_mail_from=VERP)
    found = classify(raw, SECRET)
    assert (found.kind, found.how, found.delivery_key) == ("complaint", "arf", KEY)
    assert found.recipients == [RCPT]
    assert found.detail == {"feedback_type": "abuse"}
    via_original = classify(bouncemail.arf("fbl@x.example.pl", RCPT, return_path=VERP), SECRET)
    assert via_original.delivery_key == KEY
    not_spam = bouncemail.arf("fbl@x.example.pl", RCPT, feedback_type="not-spam")
    assert classify(not_spam, SECRET).kind == "unknown"


@pytest.mark.parametrize(
    ("subject", "headers"),
    [
        ("Automatyczna odpowiedź: Zaproszenie na seminarium", {}),
        ("Odpowiedź automatyczna: Zaproszenie na seminarium", {}),
        ("Nieobecność w biurze", {}),
        ("Re: Zaproszenie — jestem na urlopie", {"X-Autoreply": "yes"}),
        ("Out of Office: Zaproszenie", {}),
        ("Automatic reply: Zaproszenie", {"Auto-Submitted": "auto-replied"}),
        ("Re: Zaproszenie na seminarium", {"Auto-Submitted": "auto-replied (vacation)"}),
        ("Re: Zaproszenie na seminarium", {"Precedence": "auto_reply"}),
    ],
)
def test_out_of_office_replies_are_auto_replies(subject: str, headers: dict[str, str]) -> None:
    raw = bouncemail.autoreply(VERP, RCPT, subject, in_reply_to=MESSAGE_ID, headers=headers)
    found = classify(raw, SECRET)
    assert (found.kind, found.delivery_key, found.message_id) == ("autoreply", KEY, MESSAGE_ID)


def test_a_bounce_in_no_standard_form_falls_back_to_flufl_bounce_with_low_confidence() -> None:
    found = classify(bouncemail.exim_bounce(VERP, RCPT, MESSAGE_ID), SECRET)
    assert (found.kind, found.how, found.confidence) == ("hard", "flufl.bounce", "low")
    assert found.recipients == [RCPT]
    assert (found.delivery_key, found.message_id, found.status) == (KEY, MESSAGE_ID, "5.1.1")


@pytest.mark.parametrize(
    "raw",
    [
        bouncemail.plain(VERP),
        bouncemail.plain("bounces@zwroty.example.pl", "Re: Zaproszenie", "Dziękuję, będę."),
        b"",
        b"\x00\xff\xfe garbage \r\n\r\n\x80",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n",
        b"Content-Type: message/delivery-status\r\n\r\n",
    ],
)
def test_anything_else_is_unknown_and_never_raises(raw: bytes) -> None:
    assert classify(raw, SECRET).kind == "unknown"


def test_events_carry_no_address_and_apply_only_what_is_signed() -> None:
    signed = classify(bouncemail.dsn(VERP, RCPT), SECRET)
    [event] = tracked_events(signed, "INBOX/7/42", NOW)
    assert (event.source, event.source_event_id) == ("mailbox", "INBOX/7/42/0")
    assert (event.type, event.bounce_class, event.delivery_key) == ("bounced", "hard", KEY)
    assert event.recipient == RCPT  # used to suppress, never stored
    assert "@" not in str(dict(event.detail))
    assert event.occurred_at == dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC)

    unsigned = classify(bouncemail.dsn("bounces@zwroty.example.pl", RCPT, envelope_id=KEY), SECRET)
    [kept] = tracked_events(unsigned, "INBOX/7/43", NOW)
    assert (kept.delivery_key, kept.recipient, kept.detail["verp"]) == (None, None, "none")
    [trusted] = tracked_events(unsigned, "INBOX/7/43", NOW, trust_unsigned=True)
    assert (trusted.delivery_key, trusted.recipient) == (KEY, RCPT)

    forged = classify(bouncemail.dsn(VERP.replace(KEY, "c3" * 20), RCPT), SECRET)
    [ignored] = tracked_events(forged, "INBOX/7/44", NOW, trust_unsigned=True)
    assert (ignored.delivery_key, ignored.recipient, ignored.detail["verp"]) == (
        None,
        None,
        "forged",
    )


def test_a_guessed_hard_bounce_counts_as_soft_and_each_kind_has_its_event() -> None:
    guessed = classify(bouncemail.exim_bounce(VERP, RCPT, MESSAGE_ID), SECRET)
    [event] = tracked_events(guessed, "INBOX/1/1", NOW)
    assert (event.type, event.bounce_class, event.detail["confidence"]) == (
        "bounced",
        "soft",
        "low",
    )
    delayed = classify(bouncemail.dsn(VERP, RCPT, action="delayed", status="4.2.2"), SECRET)
    assert [(e.type, e.bounce_class) for e in tracked_events(delayed, "i", NOW)] == [
        ("deferred", None)
    ]
    complaint = classify(bouncemail.arf("f@x.example.pl", RCPT, original_mail_from=VERP), SECRET)
    assert [e.type for e in tracked_events(complaint, "i", NOW)] == ["complained"]
    ooo = classify(bouncemail.autoreply(VERP, RCPT, "Nieobecność"), SECRET)
    assert [e.type for e in tracked_events(ooo, "i", NOW)] == ["autoresponded"]
    assert tracked_events(classify(bouncemail.plain(VERP), SECRET), "i", NOW) == []


@pytest.mark.parametrize(
    "subject",
    [
        "Nieobecność".encode(),  # raw 8-bit UTF-8, as some mail programs send it
        b"=?iso-8859-2?q?Nieobecno=B6=E6?=",  # Latin-2, as older Polish webmail does
        b"=?utf-8?b?QXV0b21hdHljem5hIG9kcG93aWVkxbo=?= Zaproszenie",
    ],
)
def test_polish_subjects_are_read_in_any_encoding(subject: bytes) -> None:
    raw = b"From: ewa@ngo.example.pl\r\nTo: " + VERP.encode() + b"\r\nSubject: " + subject
    found = classify(raw + b"\r\n\r\nJestem na urlopie.\r\n", SECRET)
    assert (found.kind, found.delivery_key) == ("autoreply", KEY)
