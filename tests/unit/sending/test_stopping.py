"""The parts of a clean stop, one at a time: the stop request and signals, waits a stop cuts
short, transports that leave unsent what they have not begun, pauses in the ledger, and a
sender that claims nothing more once paused. tests/e2e/test_stop.py runs them all end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from listonosz.campaign import load_campaign
from listonosz.config import Settings, TransportSettings
from listonosz.sending import BatchSender, MessageFactory, merge_audience, prepare_messages
from listonosz.stopping import PAUSED, SIGNALLED, Stop, Stopped, graceful_signals
from listonosz.store import ALL_KINDS, Ledger
from listonosz.transports.base import NOT_SENT, Outgoing
from listonosz.transports.outbox import OutboxTransport
from listonosz.transports.ratelimit import Pace
from listonosz.transports.smtp import SmtpTransport
from tests.conftest import CAMPAIGN, REPO, Capture
from tests.fakes import FakeApi
from tests.integration.test_providers import fake, outgoing, people, transport_for  # noqa: F401

KIND = "invitation"


def _later(seconds: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def _mail(count: int) -> list[Outgoing]:
    return [
        Outgoing(f"k{n}", "rops@x.pl", f"p{n}@x.pl", b"Subject: x\r\n\r\nx\r\n")
        for n in range(count)
    ]


def test_a_stop_cuts_a_rate_limit_wait_short() -> None:
    stop = Stop()
    pace = Pace(rate_per_minute=1, stop=stop)  # the second message would wait a minute
    pace()
    started = time.monotonic()
    _later(0.2, lambda: stop.request(SIGNALLED, "SIGTERM"))
    with pytest.raises(Stopped):
        pace()
    assert time.monotonic() - started < 5


def test_smtp_sends_nothing_more_once_stopped(capture: Capture) -> None:
    stop, calls = Stop(), []

    def third_asks_to_stop() -> None:  # runs before each message, after the stop check
        calls.append(1)
        if len(calls) == 3:
            stop.request(SIGNALLED, "SIGINT")

    settings = TransportSettings(port=capture.port)
    transport = SmtpTransport(settings, pace=Pace(shared=third_asks_to_stop, stop=stop))
    try:
        deliveries = transport.send_batch(_mail(10))
    finally:
        transport.close()
    assert [d.status for d in deliveries] == ["sent"] * 3 + ["deferred"] * 7
    assert {d.detail for d in deliveries[3:]} == {NOT_SENT}
    assert len(capture.messages()) == 3


def test_a_stop_ends_an_api_retry_wait_and_sends_nothing_more(
    fake: FakeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    messages = outgoing(tmp_path, people(20))
    fake.inject("503")
    transport = transport_for(fake, retry_backoff=30.0)  # the retry would come 15-30 s later
    _later(0.5, lambda: transport.pace.stop.request(SIGNALLED, "SIGTERM"))
    started = time.monotonic()
    deliveries = transport.send_batch(messages)
    assert time.monotonic() - started < 5
    assert [hit.status for hit in fake.send_hits()] == [503]
    assert {(d.status, d.detail) for d in deliveries} == {("deferred", NOT_SENT)}
    assert transport.send_batch(messages[:1])[0].detail == NOT_SENT  # and stays stopped


def test_the_outbox_writes_nothing_once_stopped(tmp_path: Path) -> None:
    stop = Stop()
    stop.request(SIGNALLED, "SIGINT")
    deliveries = OutboxTransport(tmp_path / "out", Pace(stop=stop)).send_batch(_mail(2))
    assert {(d.status, d.detail) for d in deliveries} == {("deferred", NOT_SENT)}
    assert list((tmp_path / "out").glob("*.eml")) == []


def test_pauses_cover_one_kind_or_the_whole_campaign(store_url: str) -> None:
    ledger = Ledger(store_url)  # on SQLite and on PostgreSQL
    try:
        assert ledger.paused("c", KIND) is None
        assert ledger.pause("c", KIND) and not ledger.pause("c", KIND)
        assert ledger.paused("c", KIND) is not None
        assert ledger.paused("c", "reminder") is None
        assert ledger.paused("other", KIND) is None
        assert ledger.pause("c")  # every kind
        assert ledger.paused("c", "reminder") is not None
        assert ledger.resume("c", KIND) and not ledger.resume("c", KIND)
        assert ledger.paused("c", KIND) is not None  # the whole campaign still is
        assert ledger.resume("c", ALL_KINDS)
        assert ledger.paused("c", KIND) is None
    finally:
        ledger.close()


def test_a_paused_sender_claims_nothing_more(tmp_path: Path) -> None:
    campaign = load_campaign(CAMPAIGN)
    factory = MessageFactory(campaign, KIND, Settings(var_dir=tmp_path))
    ready = prepare_messages(factory, merge_audience(campaign).contacts[:30], mime=True)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    checks: list[int] = []

    def paused() -> bool:
        checks.append(1)
        return len(checks) > 2  # staff pause the campaign after two chunks

    out = tmp_path / "out"
    sender = BatchSender(
        campaign.id, KIND, ledger, OutboxTransport(out), "run-1", claim_chunk=5, paused=paused
    )
    try:
        report = sender.send(ready)
        counts = ledger.status_counts(campaign.id, KIND)
    finally:
        ledger.close()
    assert sender.stop.reason == PAUSED
    assert report.counts == {"sent": 10}
    assert counts == {"sent": 10}  # nothing claimed beyond the two chunks
    assert len(list(out.glob("*.eml"))) == 10


def test_a_signal_requests_the_stop_and_the_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    stop = Stop()
    with graceful_signals(stop, say=lambda _: None):
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not stop.requested and time.monotonic() < deadline:
            time.sleep(0.01)
    assert (stop.reason, stop.detail) == (SIGNALLED, "SIGTERM")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


SECOND_SIGNAL = """
import os, signal, sys, time
from pathlib import Path
from listonosz.stopping import Stop, before_hard_stop, graceful_signals

stop = Stop()
with before_hard_stop(lambda: Path(sys.argv[1]).write_text("cleaned up")):
    with graceful_signals(stop):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        print("first:", stop.requested, flush=True)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
print("not reached", flush=True)
"""


def test_a_second_signal_stops_at_once_after_the_clean_ups(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    done = subprocess.run(
        [sys.executable, "-c", SECOND_SIGNAL, str(marker)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 128 + signal.SIGINT
    assert done.stdout == "first: True\n"
    assert "SIGINT: stopping" in done.stderr
    assert marker.read_text() == "cleaned up"


@pytest.mark.parametrize("workers", [0, 1])
def test_a_stop_while_preparing_ends_it_with_nothing_to_send(tmp_path: Path, workers: int) -> None:
    campaign = load_campaign(CAMPAIGN)
    factory = MessageFactory(campaign, KIND, Settings(var_dir=tmp_path))
    audience = merge_audience(campaign).contacts * 120  # 10,320 messages, several seconds
    started = time.monotonic()
    prepare_messages(factory, audience[:500], mime=True, workers=0)
    whole = (time.monotonic() - started) * len(audience) / 500
    stop = Stop()
    _later(0.3, lambda: stop.request(SIGNALLED, "SIGINT"))
    started = time.monotonic()
    assert prepare_messages(factory, audience, mime=True, workers=workers, stop=stop) == []
    assert time.monotonic() - started < min(5.0, whole / 2)  # a chunk and a worker's start
