"""The whole tracking loop through each provider: the send-campaign flow sends through the
provider's fake, the fake reports back (delivered, bounced, a complaint) to a running
``listonosz serve`` with its own webhook scheme, and the store ends with the events, outcomes
and suppressions that match what the fake did."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from flows.campaign import send_campaign
from listonosz.config import Settings
from listonosz.store import EventLog, Inbox, Ledger, SuppressionList
from tests.conftest import Website
from tests.fakes import API_KEY, FAKES, FakeApi
from tests.fakes.webhooks import (
    MAILGUN_SIGNING_KEY,
    WEBHOOK_PASSWORD,
    WEBHOOK_USER,
    Target,
)

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]


@pytest.fixture(params=list(FAKES))
def api(
    request: pytest.FixtureRequest, listonosz_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeApi]:
    """The provider's fake as the one transport, and its webhook configured for the app."""
    fake = FAKES[request.param]().start()
    prefix = "LISTONOSZ_TRANSPORTS__PROVIDER__"
    monkeypatch.setenv("LISTONOSZ_TRANSPORT", "provider")
    monkeypatch.setenv("LISTONOSZ_CHECK_PUBLIC_URL", "false")  # plain HTTP on loopback
    monkeypatch.setenv(f"{prefix}KIND", request.param)
    monkeypatch.setenv(f"{prefix}API_KEY", API_KEY)
    monkeypatch.setenv(f"{prefix}BASE_URL", fake.url)
    monkeypatch.setenv(f"{prefix}DOMAIN", "rops-bialystok.example")
    hooks = "LISTONOSZ_WEBHOOKS__"
    monkeypatch.setenv(f"{hooks}SENDGRID__PUBLIC_KEY", getattr(fake, "public_key", "unused"))
    monkeypatch.setenv(f"{hooks}MAILGUN__SIGNING_KEY", MAILGUN_SIGNING_KEY)
    monkeypatch.setenv(f"{hooks}POSTMARK__SECRETS", f"{WEBHOOK_USER}:{WEBHOOK_PASSWORD}")
    monkeypatch.setenv(f"{hooks}BREVO__SECRETS", f"{WEBHOOK_USER}:{WEBHOOK_PASSWORD}")
    try:
        yield fake
    finally:
        fake.stop()


def test_what_the_provider_reports_lands_in_the_store(api: FakeApi, website: Website) -> None:
    api.webhook = Target(f"{website.url}/hooks/{api.name}")
    result = send_campaign(str(website.campaign), "invitation")
    assert result["sent"] == 5 and len(api.received) == 5
    people = sorted(r.to for r in api.received)
    bounced, complained, blocked = people[0], people[1], people[2]
    api.fates.update({bounced: "bounced", complained: "complained", blocked: "blocked"})

    statuses = api.post_webhooks()
    assert statuses and set(statuses) == {200}

    settings = Settings()
    url, secret = settings.resolved_ledger_url, settings.signing_secret()
    with closing(Inbox(url)) as inbox:
        for _ in range(400):
            if not inbox.pending():
                break
            time.sleep(0.025)
        assert inbox.counts() == {"done": len(statuses)}
    with closing(Ledger(url)) as ledger, closing(EventLog(url)) as log:
        rows = {r.email: r for r in ledger.deliveries(r.key for r in api.received).values()}
        outcomes = {email: row.outcome for email, row in rows.items()}
        events = log.for_deliveries(row.key for row in rows.values())
    expected = {p: "delivered" for p in people} | {
        bounced: "bounced",
        complained: "complained",
        blocked: "bounced",
    }
    assert outcomes == expected
    assert all(e.source == api.name and e.campaign for e in events)
    assert not any(p in str(e.detail) for e in events for p in people)
    with closing(SuppressionList(url, secret)) as suppressions:
        held = {e.email: e.reason for e in suppressions.entries()}
    assert held == {bounced: "hard_bounce", complained: "complaint"}  # a block suppresses nobody

    again = api.post_webhooks()  # nothing new to report: nothing changes
    assert again == []
    assert "@" not in website.log.read_text()
