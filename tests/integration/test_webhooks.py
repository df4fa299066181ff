"""Provider webhooks against a running ``listonosz serve`` (issue 14, Must show 2): each
provider's fake posts, signed or authenticated its way; valid events land, forged ones are
refused with nothing stored, repeats count once, precedence holds, unknown messages are kept,
two secrets work during a rotation, and a malformed event never loses the others."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, text

from listonosz.store import Ledger, Outcome, SuppressionList
from tests.conftest import LISTONOSZ, free_port
from tests.fakes import FAKES, FakeApi, Received
from tests.fakes.webhooks import (
    BREVO_TOKEN,
    MAILGUN_SIGNING_KEY,
    WEBHOOK_PASSWORD,
    WEBHOOK_USER,
    Target,
    basic,
    mailgun_signature,
    sendgrid_headers,
)

SECRET = "webhook-test-installation-secret"
CAMPAIGN = "hooks-2026"
#: The second pair of a rotation: both are configured; the fakes use the first.
OLD_USER, OLD_PASSWORD = "listonosz-old", "the-old-password-1b9f"
OLD_TOKEN = "old-brevo-hook-token-77aa"
PROVIDERS = list(FAKES)


@dataclass
class Server:
    url: str
    store: str
    log: Path
    fakes: dict[str, FakeApi]

    def fake(self, provider: str) -> FakeApi:
        return self.fakes[provider]

    def post(self, provider: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        return httpx.post(f"{self.url}/hooks/{provider}", content=body, headers=headers, timeout=30)

    def query(self, sql: str, **params: object) -> list[Any]:
        engine = create_engine(self.store)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params))
        finally:
            engine.dispose()

    def inbox_rows(self) -> int:
        return int(self.query("SELECT count(*) FROM inbox")[0][0])

    def event_rows(self) -> int:
        return int(self.query("SELECT count(*) FROM events")[0][0])

    def settled(self, inbox_id: int) -> tuple[str, str, str]:
        """(status, detail, body) of an inbox row once it is processed."""
        for _ in range(400):
            [row] = self.query("SELECT status, detail, body FROM inbox WHERE id = :i", i=inbox_id)
            if row[0] != "new":
                return row[0], row[1], row[2]
            time.sleep(0.025)
        raise AssertionError(f"inbox row {inbox_id} was never processed")

    def quiet(self) -> None:
        """Wait until every stored body is processed (earlier tests' too)."""
        for _ in range(400):
            if not self.query("SELECT id FROM inbox WHERE status = 'new'"):
                return
            time.sleep(0.025)
        raise AssertionError("stored bodies were never processed")

    def events_of(self, key: str) -> list[tuple[str, str | None, str]]:
        rows = self.query(
            "SELECT type, bounce_class, detail FROM events WHERE delivery_key = :k ORDER BY id",
            k=key,
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def outcome(self, key: str) -> str | None:
        with closing(Ledger(self.store)) as ledger:
            delivery = ledger.delivery(key)
            assert delivery is not None
            return delivery.outcome

    def suppressed(self, email: str) -> str | None:
        with closing(SuppressionList(self.store, SECRET.encode())) as lists:
            entry = lists.lookup(email)
            return entry.reason if entry else None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``listonosz serve`` with every provider's webhook configured (two credentials each
    where the scheme allows), its store under a temporary var/."""
    root = tmp_path_factory.mktemp("hooks")
    fakes = {name: FAKES[name]() for name in PROVIDERS}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    for name, fake in fakes.items():
        fake.webhook = Target(f"{url}/hooks/{name}")
    store = f"sqlite:///{root / 'var' / 'ledger.sqlite'}"
    env = {
        **os.environ,
        "LISTONOSZ_VAR_DIR": str(root / "var"),
        "LISTONOSZ_CONFIG": str(root / "absent.toml"),
        "LISTONOSZ_TOKEN_SECRET": SECRET,
        "LISTONOSZ_PROJECT_DIR": str(root),
        "LISTONOSZ_WEBHOOKS__SENDGRID__PUBLIC_KEY": fakes["sendgrid"].public_key,  # type: ignore[attr-defined]
        "LISTONOSZ_WEBHOOKS__MAILGUN__SIGNING_KEY": MAILGUN_SIGNING_KEY,
        "LISTONOSZ_WEBHOOKS__POSTMARK__SECRETS": (
            f"{OLD_USER}:{OLD_PASSWORD}, {WEBHOOK_USER}:{WEBHOOK_PASSWORD}"
        ),
        "LISTONOSZ_WEBHOOKS__BREVO__SECRETS": (
            f"{WEBHOOK_USER}:{WEBHOOK_PASSWORD},{OLD_USER}:{OLD_PASSWORD}"
        ),
        "LISTONOSZ_WEBHOOKS__BREVO__TOKENS": f"{BREVO_TOKEN},{OLD_TOKEN}",
    }
    log = root / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [LISTONOSZ, "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        for _ in range(400):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        else:
            raise AssertionError(f"listonosz serve did not answer: {log.read_text()}")
        yield Server(url, store, log, fakes)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "@" not in log.read_text(), "the server's log names an address"


_people = iter(range(1_000_000))


@pytest.fixture
def person(server: Server) -> tuple[str, str]:
    """A fresh recipient with one sent invitation: (address, delivery key)."""
    email = f"osoba{next(_people)}@gmina-{os.getpid()}.example.pl"
    with closing(Ledger(server.store)) as ledger:
        [claim] = ledger.claim(CAMPAIGN, "invitation", [(email, "ngo", f"<{email}.x>")], "run")
        ledger.settle("run", [Outcome(claim.key, "sent")])
    return email, claim.key


def received(provider: str, email: str, key: str) -> Received:
    """The message a provider accepted for ``key``, with its metadata the provider's way."""
    metadata = {
        "sendgrid": {"ledger_key": key, "campaign": CAMPAIGN},
        "mailgun": {"v:ledger-key": key, "v:campaign": CAMPAIGN, "o:tag": CAMPAIGN},
        "postmark": {"ledger_key": key, "campaign": CAMPAIGN, "Tag": CAMPAIGN},
        "brevo": {"tag0": CAMPAIGN},
    }[provider]
    custom = json.dumps({"ledger_key": key, "campaign": CAMPAIGN})
    return Received(
        key=key,
        to=email,
        to_name="",
        from_email="zaproszenia@rops.example.pl",
        subject="Zaproszenie",
        text="",
        html="",
        headers={"Message-ID": f"<{key}@rops.example.pl>", "X-Mailin-custom": custom},
        provider_id=f"<{key[:12]}@{provider}.example>",
        campaign=CAMPAIGN,
        metadata=metadata,
    )


def report(server: Server, provider: str, fate: str, email: str, key: str) -> list[int]:
    """The fake tells Listonosz what happened to one message; the inbox ids it made."""
    fake = server.fake(provider)
    fake.fates[email] = fate
    before = _last_id(server)
    with fake.lock:
        fake.received.append(received(provider, email, key))
    statuses = fake.post_webhooks()
    assert statuses and set(statuses) == {200}
    return _since(server, before)


def _since(server: Server, before: int) -> list[int]:
    return [r[0] for r in server.query("SELECT id FROM inbox WHERE id > :b ORDER BY id", b=before)]


def _last_id(server: Server) -> int:
    return int(server.query("SELECT coalesce(max(id), 0) FROM inbox")[0][0])


def settle_all(server: Server, ids: list[int]) -> list[tuple[str, str, str]]:
    return [server.settled(i) for i in ids]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_bounce_lands_suppresses_and_a_late_delivery_keeps_it(
    server: Server, provider: str, person: tuple[str, str]
) -> None:
    email, key = person
    done = settle_all(server, report(server, provider, "bounced", email, key))
    assert {status for status, _, _ in done} == {"done"}
    assert all(body == "" for _, _, body in done)  # processed bodies are emptied
    types = [(t, c) for t, c, _ in server.events_of(key)]
    assert ("bounced", "hard") in types
    assert server.outcome(key) == "bounced"
    assert server.suppressed(email) == "hard_bounce"
    assert all(email not in d for _, _, d in server.events_of(key))  # diagnostics redacted

    # the same message reported delivered afterwards: the bounce stays
    settle_all(server, report(server, provider, "delivered", email, key))
    assert "delivered" in [t for t, _, _ in server.events_of(key)]
    assert server.outcome(key) == "bounced"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_complaint_suppresses_and_a_policy_block_does_not(
    server: Server, provider: str, person: tuple[str, str]
) -> None:
    email, key = person
    settle_all(server, report(server, provider, "complained", email, key))
    assert server.outcome(key) == "complained"
    assert server.suppressed(email) == "complaint"

    other = f"blok-{key[:8]}@onet.example.pl"
    with closing(Ledger(server.store)) as ledger:
        [claim] = ledger.claim(CAMPAIGN, "invitation", [(other, "ngo", "<b@x>")], "run")
    settle_all(server, report(server, provider, "blocked", other, claim.key))
    assert ("bounced", "block") in [(t, c) for t, c, _ in server.events_of(claim.key)]
    assert server.suppressed(other) is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_same_event_delivered_twice_is_one_row(
    server: Server, provider: str, person: tuple[str, str]
) -> None:
    email, key = person
    fake = server.fake(provider)
    fake.fates[email] = "bounced"
    requests = fake.webhook_requests([received(provider, email, key)])
    before = _last_id(server)
    for headers, body in requests:
        if provider == "mailgun":  # a retry comes with a fresh token: the event is the same
            posted = orjson.loads(body)
            posted["signature"] = mailgun_signature(MAILGUN_SIGNING_KEY)
            again = orjson.dumps(posted)
        else:
            headers, again = dict(headers), body
            if provider == "sendgrid":
                headers = sendgrid_headers(fake.signing_key, body)  # type: ignore[attr-defined]
        assert server.post(provider, headers, body).status_code == 200
        assert server.post(provider, headers, again).status_code == 200
    settle_all(server, _since(server, before))
    kinds = [t for t, _, _ in server.events_of(key)]
    assert kinds.count("bounced") == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_unknown_message_is_kept_unmatched(server: Server, provider: str) -> None:
    email, key = "nieznany@example.pl", "0" * 40
    before = int(server.query("SELECT count(*) FROM events WHERE delivery_key IS NULL")[0][0])
    done = settle_all(server, report(server, provider, "soft", email, key))
    assert {status for status, _, _ in done} == {"done"}
    after = int(server.query("SELECT count(*) FROM events WHERE delivery_key IS NULL")[0][0])
    assert after > before


def _refused(server: Server, provider: str, headers: dict[str, str], body: bytes) -> int:
    server.quiet()
    rows, events = server.inbox_rows(), server.event_rows()
    status = server.post(provider, headers, body).status_code
    assert (server.inbox_rows(), server.event_rows()) == (rows, events), "something was stored"
    return status


@pytest.mark.parametrize("provider", ["postmark", "brevo"])
def test_wrong_credentials_are_refused_and_two_secrets_work_in_a_rotation(
    server: Server, provider: str, person: tuple[str, str]
) -> None:
    email, key = person
    fake = server.fake(provider)
    [(headers, body), *_] = fake.webhook_requests([received(provider, email, key)])
    wrong = {**headers, **basic(WEBHOOK_USER, "not-the-password")}
    assert _refused(server, provider, wrong, body) == 401
    nothing = {k: v for k, v in headers.items() if k != "Authorization"}
    assert _refused(server, provider, nothing, body) == 401
    if provider == "brevo":
        bearer = {**headers, "Authorization": "Bearer not-the-token"}
        assert _refused(server, provider, bearer, body) == 401
    old = {**headers, **basic(OLD_USER, OLD_PASSWORD)}
    assert server.post(provider, old, body).status_code == 200
    assert server.post(provider, headers, body).status_code == 200
    if provider == "brevo":
        for token in (BREVO_TOKEN, OLD_TOKEN):
            auth = {**headers, "Authorization": f"Bearer {token}"}
            assert server.post(provider, auth, body).status_code == 200


def test_sendgrid_refuses_a_forged_a_reserialised_and_a_stale_body(
    server: Server, person: tuple[str, str]
) -> None:
    email, key = person
    fake = server.fake("sendgrid")
    [(headers, body)] = fake.webhook_requests([received("sendgrid", email, key)])
    events = orjson.loads(body)
    events[0]["event"] = "delivered"
    forged = orjson.dumps(events)
    assert _refused(server, "sendgrid", headers, forged) == 403
    reserialised = json.dumps(orjson.loads(body), indent=1).encode()  # same JSON, other bytes
    assert _refused(server, "sendgrid", headers, reserialised) == 403
    other_key = FAKES["sendgrid"]().signing_key  # type: ignore[attr-defined]
    assert _refused(server, "sendgrid", sendgrid_headers(other_key, body), body) == 403
    stale = sendgrid_headers(fake.signing_key, body, str(int(time.time()) - 3 * 86400))  # type: ignore[attr-defined]
    assert _refused(server, "sendgrid", stale, body) == 403
    unsigned = {"Content-Type": "application/json"}
    assert _refused(server, "sendgrid", unsigned, body) == 401
    assert server.post("sendgrid", headers, body).status_code == 200


def test_mailgun_refuses_a_forged_signature_a_reused_token_and_a_stale_timestamp(
    server: Server, person: tuple[str, str]
) -> None:
    email, key = person
    fake = server.fake("mailgun")
    fake.fates[email] = "bounced"
    [(headers, body)] = fake.webhook_requests([received("mailgun", email, key)])
    posted = orjson.loads(body)
    forged = {**posted, "signature": mailgun_signature("not-the-signing-key")}
    assert _refused(server, "mailgun", headers, orjson.dumps(forged)) == 403
    stale = {**posted, "signature": mailgun_signature(MAILGUN_SIGNING_KEY, "1600000000")}
    assert _refused(server, "mailgun", headers, orjson.dumps(stale)) == 403
    assert _refused(server, "mailgun", headers, b'{"event-data": {}}') == 401
    assert server.post("mailgun", headers, body).status_code == 200
    server.settled(_last_id(server))
    assert _refused(server, "mailgun", headers, body) == 403  # the same token again


def test_a_malformed_event_in_a_batch_loses_no_other(
    server: Server, person: tuple[str, str]
) -> None:
    email, key = person
    fake = server.fake("sendgrid")
    fake.fates[email] = "bounced"
    [(_, body)] = fake.webhook_requests([received("sendgrid", email, key)])
    events = orjson.loads(body)
    events.insert(1, {"event": "bounce", "email": email})  # no sg_event_id, no timestamp
    events.append("not an event")
    broken = orjson.dumps(events)
    response = server.post("sendgrid", sendgrid_headers(fake.signing_key, broken), broken)  # type: ignore[attr-defined]
    assert response.status_code == 200
    status, detail, kept = server.settled(_last_id(server))
    assert status == "failed" and kept == broken.decode()  # kept for another try
    assert "event 1: missing field 'sg_event_id'" in detail
    assert "event 3: not a JSON object" in detail
    assert "@" not in detail
    assert server.outcome(key) == "bounced"  # the readable events were applied


@pytest.mark.parametrize("provider", PROVIDERS)
def test_bad_input_never_gets_a_500(server: Server, provider: str) -> None:
    fake = server.fake(provider)
    if provider == "sendgrid":
        garbage = b"\x00 not json"
        headers = sendgrid_headers(fake.signing_key, garbage)  # type: ignore[attr-defined]
    elif provider == "mailgun":
        garbage = b"{not json"
        headers = {"Content-Type": "application/json"}
    else:
        garbage = b'[1, {"event": []}, {"RecordType": 7}]'
        headers = basic(WEBHOOK_USER, WEBHOOK_PASSWORD)
    response = server.post(provider, headers, garbage)
    assert response.status_code in (200, 400, 401)
    if response.status_code == 200:
        status, _, _ = server.settled(_last_id(server))
        assert status == "failed"
    assert server.post(provider, headers, b"\xff\xfe").status_code in (400, 401, 403)
    assert httpx.post(f"{server.url}/hooks/nobody", content=b"{}").status_code == 404
