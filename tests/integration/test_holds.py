"""A provider's "wait" reaches every worker: the store's holds, on SQLite and PostgreSQL, and two
transports (as two workers would have) sharing one through the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from listonosz.store import Holds
from listonosz.transports import make_transport, service_name
from listonosz.transports.http import ApiTransport
from tests.fakes import FAKES, FakeApi
from tests.integration.test_providers import outgoing, people, settings_for


def test_a_hold_reaches_every_handle_and_is_never_shortened(store_url: str) -> None:
    here, there = Holds(store_url), Holds(store_url)
    try:
        assert there.remaining("sendgrid:https://api") == 0.0
        here.hold("sendgrid:https://api", 2.0)
        assert 1.0 < there.remaining("sendgrid:https://api") <= 2.0
        here.hold("sendgrid:https://api", 0.2)  # a shorter wait keeps the longer one
        assert 1.0 < there.remaining("sendgrid:https://api") <= 2.0
        there.hold("sendgrid:https://api", 5.0)
        assert 4.0 < here.remaining("sendgrid:https://api") <= 5.0
        assert here.remaining("mailgun:https://api") == 0.0  # another service is not held
    finally:
        here.close()
        there.close()


@pytest.fixture
def mailgun() -> Iterator[FakeApi]:
    api = FAKES["mailgun"](hang=0.8).start()
    yield api
    api.stop()


def test_a_429_to_one_worker_holds_the_other_too(mailgun: FakeApi, tmp_path: Path) -> None:
    """Worker A is told "Retry-After: 2"; worker B, which has its own client and gate (another
    process), sends nothing until the two seconds have passed."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    settings = settings_for(mailgun, timeout=10.0)
    holds = [Holds(url), Holds(url)]
    a, b = (
        make_transport(settings, Path("unused"), hold=h.named(service_name(settings)))
        for h in holds
    )
    assert isinstance(a, ApiTransport) and isinstance(b, ApiTransport)
    messages = outgoing(tmp_path, people(20))
    try:
        mailgun.inject("429:2")
        a.send_batch(messages[:10])  # 429, waits 2 s, then sent
        told = next(h.at for h in mailgun.send_hits() if h.status == 429)
        b.send_batch(messages[10:])
        sent_by_b = mailgun.send_hits()[-1]
        assert sent_by_b.status < 300
        assert sent_by_b.at - told >= 1.9  # B waited for the hold A was given
    finally:
        for transport in (a, b):
            transport.close()
        for handle in holds:
            handle.close()
