"""Sending through the mail API transports, each against its local fake (tests/fakes).

Every fake checks requests as its provider documents them and answers in its shapes; these tests
show that every message arrives exactly as rendered, that faults end with each recipient sent
once or failed with a reason, that rate limits are waited out (measured at the server), and that
the API key never shows up where people look.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from listonosz.campaign import load_campaign
from listonosz.config import Settings, TransportSettings
from listonosz.contacts.model import Contact
from listonosz.sending import BatchSender, MessageFactory, merge_audience, prepare_messages
from listonosz.store import Ledger
from listonosz.transports import make_transport
from listonosz.transports.base import Outgoing, TransportUnavailable
from listonosz.transports.http import (
    ApiTransport,
    retry_after,
    shared_parts,
    sharing_requests,
)
from listonosz.transports.sendgrid import SendGrid
from listonosz.transports.smtp import SmtpTransport
from tests.conftest import CAMPAIGN, free_port
from tests.fakes import API_KEY, FAKES, FakeApi

DOMAIN = "rops-bialystok.example"
CAMPAIGN_ID = "ekonomia-spoleczna-2016"
PROVIDERS = list(FAKES)
#: Providers that document rate-limit headers on accepted requests (the others send none).
RATE_HEADERS = {"sendgrid", "brevo"}


@pytest.fixture(params=PROVIDERS)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeApi]:
    api = FAKES[request.param](hang=0.8).start()
    try:
        yield api
    finally:
        api.stop()


def settings_for(fake: FakeApi, **changes: object) -> TransportSettings:
    values: dict[str, object] = {
        "kind": fake.name,
        "api_key": API_KEY,
        "base_url": fake.url,
        "domain": DOMAIN,
        "timeout": 2.0,
        "retries": 3,
        "retry_backoff": 0.01,
        **changes,
    }
    return TransportSettings(**values)


def transport_for(fake: FakeApi, **changes: object) -> ApiTransport:
    transport = make_transport(settings_for(fake, **changes), Path("unused"))
    assert isinstance(transport, ApiTransport)
    return transport


def factory(tmp_path: Path) -> MessageFactory:
    return MessageFactory(load_campaign(CAMPAIGN), "invitation", Settings(var_dir=tmp_path))


def people(count: int) -> list[Contact]:
    return [
        Contact(
            f"osoba{n}@gmina{n % 7}.example.pl",
            "Anna" if n % 2 else "Jan",
            f"Nowak{n}",
            groups=("jst",) if n % 3 else ("ngo", "koscioly"),
        )
        for n in range(count)
    ]


def outgoing(tmp_path: Path, contacts: list[Contact]) -> list[Outgoing]:
    made = factory(tmp_path)
    date = dt.datetime(2016, 8, 20, 9, 0, tzinfo=dt.UTC)
    return [made.outgoing(made.prepare(c), date, mime=False) for c in contacts]


def seminar(tmp_path: Path) -> list[Outgoing]:
    return outgoing(tmp_path, merge_audience(load_campaign(CAMPAIGN)).contacts)


def assert_arrived_as_rendered(fake: FakeApi, messages: list[Outgoing]) -> None:
    """Each message reached its recipient exactly once, with the content Listonosz rendered."""
    received = {r.to: r for r in fake.received}
    assert Counter(r.to for r in fake.received) == Counter(m.rcpt_to for m in messages)
    for message in messages:
        parts, got = message.parts, received[message.rcpt_to]
        assert parts is not None
        assert (got.key, got.subject, got.text, got.html) == (
            message.key,
            parts.subject,
            parts.text,
            parts.html,
        )
        headers = {k.lower(): v for k, v in got.headers.items()}
        assert headers["message-id"] == parts.headers["Message-ID"]
        assert headers["list-unsubscribe"] == parts.headers["List-Unsubscribe"]
        assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
        assert got.campaign == CAMPAIGN_ID
        assert got.attachments == [(a.filename, a.data) for a in parts.attachments]


def test_the_seminar_arrives_exactly_as_rendered_in_one_batch_request(
    fake: FakeApi, tmp_path: Path
) -> None:
    messages = seminar(tmp_path)
    assert len(messages) == 86
    transport = transport_for(fake)
    transport.check()
    deliveries = transport.send_batch(messages)
    transport.close()

    assert [d.key for d in deliveries] == [m.key for m in messages]
    assert {d.status for d in deliveries} == {"sent"}
    ids = {r.to: r.provider_id for r in fake.received}
    for message, delivery in zip(messages, deliveries, strict=True):
        assert delivery.detail.startswith(fake.name)
        assert ids[message.rcpt_to] in delivery.detail  # the provider's message id
    assert_arrived_as_rendered(fake, messages)
    # One call for everyone; shared-body APIs need one call per attachment set (the .ics
    # carries its render time, so a batch rendered across a second boundary has two).
    sizes = (
        [86]
        if fake.name == "postmark"
        else [len(g) for g in sharing_requests(messages, shared_parts)]
    )
    assert sorted(h.messages for h in fake.send_hits()) == sorted(sizes)


def test_only_the_ledger_key_and_campaign_go_into_tags_and_metadata(
    fake: FakeApi, tmp_path: Path
) -> None:
    messages = seminar(tmp_path)
    transport_for(fake).send_batch(messages)
    keys = {m.key for m in messages}
    for received in fake.received:
        assert received.metadata, "the ledger key must travel with the message"
        assert set(received.metadata.values()) <= {received.key, CAMPAIGN_ID}
        assert received.key in keys and len(received.key) == 40


@pytest.mark.parametrize(
    ("provider", "method", "path", "body", "status", "shape"),
    [
        (
            "postmark",
            "POST",
            "/email/batch",
            [{"From": "a@b.pl", "To": "c@d.pl"}],
            200,
            "ErrorCode",
        ),
        ("postmark", "POST", "/email/batch", [{}] * 501, 422, "ErrorCode"),
        ("sendgrid", "POST", "/v3/mail/send", {"from": {"email": "a@b.pl"}}, 400, "errors"),
        ("mailgun", "POST", "/v3/rops-bialystok.example/messages", None, 400, "message"),
        ("brevo", "POST", "/v3/smtp/email", {"subject": "x", "htmlContent": "x"}, 400, "code"),
    ],
)
def test_the_fakes_refuse_what_their_providers_refuse(
    provider: str, method: str, path: str, body: object, status: int, shape: str
) -> None:
    with FAKES[provider]() as api:
        transport = transport_for(api)
        client = transport.client.http
        if provider == "mailgun":
            answer = client.request(method, path, files=[("from", (None, b"a@b.pl"))])
        else:
            answer = client.request(method, path, json=body)
        transport.close()
    assert answer.status_code == status
    payload = answer.json()
    first = payload[0] if isinstance(payload, list) else payload
    assert shape in first
    if provider == "postmark" and status == 200:
        assert first["ErrorCode"] == 300  # neither TextBody nor HtmlBody


def test_a_wrong_key_stops_the_run_at_the_check(fake: FakeApi) -> None:
    wrong = "wrong-key-8c1f2e"
    transport = transport_for(fake, api_key=wrong)
    with pytest.raises(TransportUnavailable, match=r"refused the API key \(HTTP 401\)") as error:
        transport.check()
    assert wrong not in str(error.value)
    assert fake.received == []


def test_a_missing_key_or_an_unreachable_api_is_a_clear_error(fake: FakeApi) -> None:
    with pytest.raises(TransportUnavailable, match=r"no API key.*LISTONOSZ_TRANSPORTS__"):
        transport_for(fake, api_key=None).check()
    nowhere = transport_for(fake, base_url=f"http://127.0.0.1:{free_port()}", retries=0)
    with pytest.raises(TransportUnavailable, match=r"cannot reach .*connection failed"):
        nowhere.check()


def test_provider_specific_checks() -> None:
    with (
        FAKES["sendgrid"](scopes=("stats.read",)) as api,
        pytest.raises(TransportUnavailable, match=r"lacks the mail\.send scope"),
    ):
        transport_for(api).check()
    with FAKES["mailgun"]() as api:
        with pytest.raises(TransportUnavailable, match=r"HTTP 404.*Domain not found"):
            transport_for(api, domain="other.example").check()
        with pytest.raises(TransportUnavailable, match="set the sending domain"):
            transport_for(api, domain=None).check()


def test_429_waits_as_long_as_the_provider_says(fake: FakeApi, tmp_path: Path) -> None:
    messages = outgoing(tmp_path, people(20))
    fake.inject("429:1")
    # a generous timeout: on a loaded machine a timed-out retry would add a third request
    deliveries = transport_for(fake, timeout=10.0).send_batch(messages)
    first, second = fake.send_hits()
    assert first.status == 429 and second.status < 300
    # SendGrid says when the window resets as a Unix time in whole seconds: up to 1 s more.
    assert 0.95 <= second.at - first.at <= 2.5
    assert {d.status for d in deliveries} == {"sent"}
    assert_arrived_as_rendered(fake, messages)


@pytest.mark.parametrize("fake", sorted(RATE_HEADERS), indirect=True)
def test_exhausted_rate_limit_headers_hold_the_next_request(fake: FakeApi, tmp_path: Path) -> None:
    messages = outgoing(tmp_path, people(20))
    transport = transport_for(fake, timeout=10.0)  # as above: no timed-out retries
    fake.inject("exhaust:1")
    transport.send_batch(messages[:10])
    transport.send_batch(messages[10:])
    first, second = fake.send_hits()
    assert first.status < 300 and second.status < 300
    assert 0.95 <= second.at - first.at <= 2.5
    assert_arrived_as_rendered(fake, messages)


def test_5xx_and_timeouts_are_retried_and_nobody_gets_two(fake: FakeApi, tmp_path: Path) -> None:
    messages = outgoing(tmp_path, people(20))
    fake.inject("500", "503", "timeout")
    deliveries = transport_for(fake, timeout=0.3).send_batch(messages)
    assert [h.status for h in fake.send_hits()][:2] == [500, 503]
    assert len(fake.send_hits()) == 4
    assert {d.status for d in deliveries} == {"sent"}
    assert_arrived_as_rendered(fake, messages)


def test_when_retries_run_out_messages_are_deferred_and_the_next_run_sends_them(
    fake: FakeApi, tmp_path: Path
) -> None:
    messages = outgoing(tmp_path, people(10))
    fake.inject("500", "500", "503", "500")
    transport = transport_for(fake)
    first = transport.send_batch(messages)
    assert {d.status for d in first} == {"deferred"}
    assert all("HTTP 500" in d.detail and "after 4 tries" in d.detail for d in first)
    assert fake.received == []
    second = transport.send_batch(messages)
    assert {d.status for d in second} == {"sent"}
    assert_arrived_as_rendered(fake, messages)


def test_a_refused_address_fails_alone(fake: FakeApi, tmp_path: Path) -> None:
    messages = outgoing(tmp_path, people(20))
    bad = {messages[3].rcpt_to, messages[16].rcpt_to}
    fake.invalid |= bad
    deliveries = transport_for(fake).send_batch(messages)
    by_address = {m.rcpt_to: d for m, d in zip(messages, deliveries, strict=True)}
    for address, delivery in by_address.items():
        if address in bad:
            assert delivery.status == "failed" and delivery.suppress
            assert delivery.detail.startswith(fake.name)
            assert re.search("valid|illegal", delivery.detail, re.IGNORECASE)
        else:
            assert delivery.status == "sent", delivery.detail
    assert_arrived_as_rendered(fake, [m for m in messages if m.rcpt_to not in bad])


def test_postmark_inactive_recipients_are_failed_and_suppressed(tmp_path: Path) -> None:
    messages = outgoing(tmp_path, people(5))
    with FAKES["postmark"]() as api:
        api.inactive.add(messages[1].rcpt_to)
        deliveries = transport_for(api).send_batch(messages)
        assert len(api.send_hits()) == 1
    assert [d.status for d in deliveries] == ["sent", "failed", "sent", "sent", "sent"]
    assert deliveries[1].suppress and "ErrorCode 406" in deliveries[1].detail


def test_a_late_answer_is_resent_recognisably(fake: FakeApi, tmp_path: Path) -> None:
    """The provider accepted the request but answered after the client gave up. Brevo's
    idempotency key makes the retry a no-op; elsewhere the second copy carries the same
    ledger key and Message-ID, so it is recognisable (and mail clients fold it)."""
    messages = outgoing(tmp_path, people(8))
    fake.inject("late")
    deliveries = transport_for(fake, timeout=0.3).send_batch(messages)
    assert {d.status for d in deliveries} == {"sent"}
    copies = Counter(fake.keys())
    if fake.name == "brevo":
        assert fake.replays == 1  # type: ignore[attr-defined]
        assert copies == Counter(m.key for m in messages)
    else:
        assert copies == Counter({m.key: 2 for m in messages})
        by_key: dict[str, set[str]] = {}
        for received in fake.received:
            by_key.setdefault(received.key, set()).add(received.headers["Message-ID"])
        assert all(len(ids) == 1 for ids in by_key.values())


@pytest.mark.slow
def test_a_fault_storm_ends_with_everyone_sent_once_or_failed_with_a_reason(
    fake: FakeApi, tmp_path: Path
) -> None:
    """429s, 500s, 503s, timeouts and refused addresses, through the ledger, run after run."""
    contacts = people(200)
    refused = {c.email for c in contacts[::37]}
    fake.invalid |= refused
    rng = random.Random(2016)
    fake.inject(*rng.choices(["429:0.2", "500", "503", "timeout", "none"], k=60))
    transport = transport_for(fake, timeout=0.3, retries=2)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    # Small chunks: many requests, so the storm's faults spread over many of them.
    sender = BatchSender(
        CAMPAIGN_ID, "invitation", ledger, transport, run_id="run-0", claim_chunk=20
    )
    for run in range(8):
        settled = ledger.settled_emails(CAMPAIGN_ID, "invitation")
        remaining = [c for c in contacts if c.email not in settled]
        if not remaining:
            break
        sender.run_id = f"run-{run}"
        sender.send(prepare_messages(factory(tmp_path), remaining, mime=False))
    transport.close()

    assert ledger.status_counts(CAMPAIGN_ID, "invitation") == {
        "sent": len(contacts) - len(refused),
        "failed": len(refused),
    }
    assert Counter(r.to for r in fake.received) == Counter(
        c.email for c in contacts if c.email not in refused
    )
    with ledger.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT email, status, detail FROM deliveries").all()
    for email, status, detail in rows:
        assert status == ("failed" if email in refused else "sent")
        assert detail.startswith(fake.name)  # a reason, or the provider's message id
    ledger.close()


def test_the_api_key_never_shows_in_logs_errors_details_or_the_ledger(
    fake: FakeApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    contacts = people(30)
    fake.invalid.add(contacts[2].email)
    fake.inject("500", "429:0.1", "timeout")
    transport = transport_for(fake, timeout=0.3)
    transport.check()
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    sender = BatchSender(CAMPAIGN_ID, "invitation", ledger, transport, run_id="run-1")
    report = sender.send(prepare_messages(factory(tmp_path), contacts, mime=False))
    errors = []
    closed = f"http://127.0.0.1:{free_port()}"
    for wrong in (
        transport_for(fake, api_key="not-" + API_KEY),
        transport_for(fake, base_url=closed, retries=0),
    ):
        try:
            wrong.check()
        except TransportUnavailable as error:
            errors.append(str(error))
    with ledger.engine.connect() as conn:
        ledger_text = repr(conn.exec_driver_sql("SELECT * FROM deliveries").all())
    ledger.close()

    assert report.counts == {"sent": 29, "failed": 1}
    assert len(errors) == 2 and "HTTP 401" in errors[0] and "cannot reach" in errors[1]
    assert "retry" in caplog.text.lower() or "try 2 of" in caplog.text  # the logs were looked at
    for text in (caplog.text, *errors, *report.failures, ledger_text, repr(transport.__dict__)):
        assert API_KEY not in text
    assert transport.client.redact(f"echoed {API_KEY}!") == "echoed ***!"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after(answer("3")) == 3.0
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    later = answer("Thu, 01 Jan 2026 12:00:30 GMT")
    assert retry_after(later, now=now.timestamp()) == pytest.approx(30.0)
    assert retry_after(httpx.Response(429)) is None


@pytest.mark.parametrize(
    ("kind", "region", "url"),
    [
        ("postmark", "eu", "https://api.postmarkapp.com"),
        ("sendgrid", "eu", "https://api.sendgrid.com"),
        ("mailgun", "eu", "https://api.eu.mailgun.net"),
        ("mailgun", "us", "https://api.mailgun.net"),
        ("brevo", "eu", "https://api.brevo.com"),
    ],
)
def test_each_kind_gets_its_provider_and_default_address(kind: str, region: str, url: str) -> None:
    transport = make_transport(
        TransportSettings(kind=kind, api_key=API_KEY, region=region), Path("unused")
    )
    assert isinstance(transport, ApiTransport) and transport.name == kind
    assert transport.wants_mime is False
    assert str(transport.client.http.base_url).rstrip("/") == url
    transport.close()
    assert isinstance(make_transport(TransportSettings(), Path("unused")), SmtpTransport)


def test_rate_per_minute_spaces_messages(tmp_path: Path) -> None:
    messages = outgoing(tmp_path, people(3))
    with FAKES["postmark"]() as api:
        transport = transport_for(api, rate_per_minute=600)  # one message every 0.1 s
        transport.send_batch(messages[:1])
        transport.send_batch(messages[1:])
        first, second = api.send_hits()
    assert second.at - first.at >= 0.15  # two tokens for the second batch, burst of one


def test_the_shared_body_of_a_batch_holds_no_recipient_address(tmp_path: Path) -> None:
    messages = seminar(tmp_path)
    requests = SendGrid().requests(messages)
    assert len(requests) <= 2  # one per attachment set
    for request in requests:
        body = request.json
        assert isinstance(body, dict)
        shared = " ".join(c["value"] for c in body["content"])
        assert not [m.rcpt_to for m in messages if m.rcpt_to in shared]
        recipients = [p["to"][0]["email"] for p in body["personalizations"]]
        assert recipients == [m.rcpt_to for m in request.messages]
        assert all("substitutions" in p for p in body["personalizations"])


def test_an_account_refusal_defers_everyone_without_splitting(tmp_path: Path) -> None:
    messages = outgoing(tmp_path, people(12))
    with FAKES["mailgun"](domain="elsewhere.example") as api:
        deliveries = transport_for(api).send_batch(messages)
        assert len(api.send_hits()) == 1
    assert {d.status for d in deliveries} == {"deferred"}
    assert "Domain not found" in deliveries[0].detail


@pytest.mark.parametrize(
    ("name", "clash"),
    [("sendgrid", "%lz0%"), ("mailgun", "%recipient.x%")],  # their substitution syntax
)
def test_a_message_that_holds_substitution_syntax_goes_alone_and_the_rest_stay_factored(
    tmp_path: Path, name: str, clash: str
) -> None:
    messages = seminar(tmp_path)[:30]
    odd = messages[7]
    assert odd.parts is not None
    text = odd.parts.text.replace("Z wyrazami", f"Kod {clash} Z wyrazami")
    messages[7] = dataclasses.replace(odd, parts=dataclasses.replace(odd.parts, text=text))
    with FAKES[name]() as api:
        transport = transport_for(api)
        requests = transport.provider.requests(messages)
        assert sorted(len(r.messages) for r in requests) == [1, 29]
        assert next(r for r in requests if len(r.messages) == 1).messages == (messages[7],)
        deliveries = transport.send_batch(messages)
        assert_arrived_as_rendered(api, messages)
    assert {d.status for d in deliveries} == {"sent"}


def test_a_name_that_looks_like_an_encoded_word_reaches_the_provider_as_written(
    fake: FakeApi, tmp_path: Path
) -> None:
    # Postmark and Mailgun parse ``Name <addr>``: a raw "=?…?=" name would be decoded there.
    look_alike = "=?utf-8?q?Jan=0D=0ABcc=3A_victim=40evil-example?="
    contacts = [Contact("jan@gmina-lapy.example.pl", look_alike, groups=("jst",)), *people(3)]
    messages = outgoing(tmp_path, contacts)
    transport = transport_for(fake)
    deliveries = transport.send_batch(messages)
    transport.close()
    assert {d.status for d in deliveries} == {"sent"}
    names = {r.to: r.to_name for r in fake.received}
    assert names == {c.email: c.full_name for c in contacts}
