"""Sending throughput: the whole pipeline against raw smtplib, in the same run.

    .venv/bin/python benchmarks/send.py [--recipients 20000] [--prefect-email 100]
    .venv/bin/python benchmarks/send.py --transport postmark [--recipients 20000]

A discarding SMTP sink runs in its own process. Three measurements against it:

- raw smtplib: prebuilt message bytes, one connection, ``sendmail`` in a loop (the baseline);
- Listonosz: the ``send-campaign`` Prefect flow end to end (merge the contact file, plan
  against the ledger, render, assemble MIME, claim and settle in the ledger, send over SMTP);
- prefect-email: its ``email_send_message`` task once per recipient, on a sample (the package
  is the ``bench`` extra, which ``make bench`` installs; ``--prefect-email 0`` leaves it out).

It prints messages per second and each ratio to the baseline; the target is Listonosz ≥ 0.8×.

With ``--transport NAME`` (postmark, sendgrid, mailgun, brevo) the same flow sends through that
provider's local fake instead (tests/fakes, in its own process, answering every request after
20 ms) and prints messages per second; the target is ≥ 2,000. ``--claim-chunk N`` patches the
flow's BatchSender to claim N rows at a time — a benchmark-only experiment, labelled as such in
the output; the real flow claims what one API request takes (500).

With ``--sink postfix`` the sink is Postfix's ``smtp-sink`` (a C SMTP server, Debian's postfix
package; a new one per measurement), so the sender, not the sink, is what is measured. Raw
smtplib is measured before and after (the baseline), and between them ``listonosz send`` as a
command, each time against a Prefect server of its own started for the run: embedded (the
batches are threads of the flow process, SQLite), then with ``--on-workers`` on 1 and on 2
``listonosz worker --limit N`` processes, a new PostgreSQL ledger each (benchmarks/scale.py
runs them). For each it prints messages per second over the whole command (process start,
preflight rendering every message, sending) and while sending (first claim to last
settlement), each against raw smtplib, and the CPU milliseconds a message of Listonosz's
processes (the coordinator, its preparing interpreters and the workers), from which a reader
projects N cores: at most N × 1000 / ms messages a second. Target: ≥ 0.5× raw with 2 workers.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import dataclasses
import functools
import hashlib
import importlib.util
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `listonosz` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories import REPO, write_project


class Sink:
    """The discarding sink in a child process."""

    def __init__(self, port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "benchmarks" / "sink.py"), str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout and self.process.stdout.readline().strip() == "ready"

    def stop(self) -> int:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        return int(out.strip().splitlines()[-1])


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prebuilt_messages(campaign_path: Path, count: int) -> list[tuple[str, bytes]]:
    """The same messages the pipeline sends, assembled in advance for the raw baseline."""
    import datetime as dt

    from listonosz.campaign import load_campaign
    from listonosz.config import Settings
    from listonosz.sending import MessageFactory, merge_audience

    campaign = load_campaign(campaign_path)
    contacts = merge_audience(campaign).contacts[:count]
    factory = MessageFactory(campaign, "invitation", Settings())
    now = dt.datetime.now(dt.UTC)
    return [(c.email, factory.assemble(factory.prepare(c), now)) for c in contacts]


def raw_smtplib(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Seconds to send prebuilt bytes over one connection."""
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for recipient, data in messages:
            conn.sendmail("zaproszenia@rops-bialystok.example", [recipient], data)
    return time.perf_counter() - start


def listonosz_flow(campaign_path: Path) -> tuple[float, int, float]:
    """Seconds for the send-campaign flow, how many it sent, and how many of those seconds came
    after the flow's own function returned (from the time of its final state): Prefect ending
    the run, which joins its heartbeat thread (it sleeps in one-second steps, so a run ends on
    a whole second after it began)."""
    from flows.campaign import send_campaign

    start = time.perf_counter()
    state = send_campaign(str(campaign_path), "invitation", return_state=True)
    end, now = time.perf_counter(), time.time()
    result = state.result()
    return end - start, result["sent"], now - state.timestamp.timestamp()


def prefect_email(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Seconds for prefect-email's task, called once per recipient inside one flow."""
    from prefect import flow
    from prefect_email import EmailServerCredentials, email_send_message

    credentials = EmailServerCredentials(
        smtp_server="127.0.0.1", smtp_port=port, smtp_type="INSECURE"
    )

    @flow(name="prefect-email-baseline")
    async def send_each() -> None:
        for recipient, _ in messages:
            await email_send_message(
                subject="Zaproszenie",
                msg="<p>Zaproszenie</p>",
                email_server_credentials=credentials,
                email_to=recipient,
            )

    start = time.perf_counter()
    asyncio.run(send_each())
    return time.perf_counter() - start


def measure(root: Path, recipients: int, prefect_email_sample: int) -> dict[str, float]:
    """Messages per second of each contender, all against one sink process."""
    campaign_path = write_project(root, recipients)
    port = free_port()
    os.environ.update(
        LISTONOSZ_VAR_DIR=str(root / "var"),
        LISTONOSZ_PROJECT_DIR=str(root),
        LISTONOSZ_TRANSPORTS__CAPTURE__PORT=str(port),
        LISTONOSZ_CONFIG=str(root / "absent.toml"),
        PREFECT_HOME=str(root / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )
    from prefect import flow

    flow(name="warm-up")(lambda: None)()  # start Prefect's local server before timing

    sink = Sink(port)
    try:
        messages = prebuilt_messages(campaign_path, recipients)
        raw_before = raw_smtplib(port, messages)
        ours, sent, ending = listonosz_flow(campaign_path)
        raw_after = raw_smtplib(port, messages)
        sample = messages[:prefect_email_sample]
        theirs = prefect_email(port, sample) if sample else None
    finally:
        received = sink.stop()
    expected = 3 * len(messages) + len(sample)
    assert sent == recipients, f"the flow sent {sent} of {recipients}"
    assert received == expected, f"the sink received {received}, expected {expected}"
    print(
        f"{recipients} recipients; raw smtplib {raw_before:.1f} s before, "
        f"{raw_after:.1f} s after; the flow {ours:.1f} s ({ending:.1f} s of it after its last "
        "step: Prefect ending the run)"
    )
    rates = {
        "raw smtplib (baseline)": 2 * len(messages) / (raw_before + raw_after),
        "Listonosz flow": sent / ours,
    }
    if theirs is not None:
        rates["prefect-email per recipient"] = len(sample) / theirs
    return rates


PROVIDERS = ("postmark", "sendgrid", "mailgun", "brevo")
FAKE_DELAY = 0.02  # seconds before the fake answers each request


class FakeApi:
    """A provider's fake (tests/fakes) in a child process, answering after 20 ms."""

    def __init__(self, name: str, port: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes", name, str(port), str(FAKE_DELAY)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        assert self.process.stdout and self.process.stdout.readline().strip() == "ready"

    def stop(self) -> tuple[int, float]:
        """Messages the fake accepted, and the CPU seconds it used."""
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        count, cpu = out.strip().splitlines()[-1].split()
        return int(count), float(cpu)


def transport_alone(name: str, url: str, campaign_path: Path, count: int) -> float:
    """Messages per second of the transport alone: prebuilt message parts, as many a call as the
    flow claims at once, as many threads as the flow's send-batch tasks (``Settings.concurrency``,
    4) — the ceiling of the send phase."""
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    from listonosz.campaign import load_campaign
    from listonosz.config import Settings, TransportSettings
    from listonosz.sending import MessageFactory, merge_audience
    from listonosz.transports import make_transport
    from tests.fakes.server import API_KEY

    campaign = load_campaign(campaign_path)
    factory = MessageFactory(campaign, "invitation", Settings())
    now = dt.datetime.now(dt.UTC)
    contacts = merge_audience(campaign).contacts[:count]
    messages = [factory.outgoing(factory.prepare(c), now, mime=False) for c in contacts]
    # Keys of their own: the flow's keys were just sent, and Brevo's idempotency would skip them.
    messages = [
        dataclasses.replace(m, key=hashlib.sha1(b"alone" + m.key.encode()).hexdigest())
        for m in messages
    ]
    settings = TransportSettings(
        kind=name, api_key=API_KEY, base_url=url, domain="rops-bialystok.example"
    )
    transport = make_transport(settings, Path("unused"))
    size = transport.claim_chunk
    chunks = [messages[i : i + size] for i in range(0, len(messages), size)]
    start = time.perf_counter()
    with ThreadPoolExecutor(Settings().concurrency) as pool:
        results = [d for batch in pool.map(transport.send_batch, chunks) for d in batch]
    seconds = time.perf_counter() - start
    transport.close()
    assert all(d.status == "sent" for d in results), "the transport alone left messages unsent"
    return len(results) / seconds


def measure_provider(
    root: Path, recipients: int, name: str, claim_chunk: int | None
) -> dict[str, float]:
    """Messages per second of the send-campaign flow through one provider's fake."""
    campaign_path = write_project(root, recipients)
    port = free_port()
    prefix = "LISTONOSZ_TRANSPORTS__BENCH__"
    os.environ.update(
        {
            "LISTONOSZ_VAR_DIR": str(root / "var"),
            "LISTONOSZ_PROJECT_DIR": str(root),
            "LISTONOSZ_CONFIG": str(root / "absent.toml"),
            "LISTONOSZ_TRANSPORT": "bench",
            # the fake provider delivers to nobody: no link in its messages has to work
            "LISTONOSZ_CHECK_PUBLIC_URL": "false",
            f"{prefix}KIND": name,
            f"{prefix}BASE_URL": f"http://127.0.0.1:{port}",
            f"{prefix}DOMAIN": "rops-bialystok.example",
            "PREFECT_HOME": str(root / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        }
    )
    sys.path.insert(0, str(REPO))
    from tests.fakes.server import API_KEY

    os.environ[f"{prefix}API_KEY"] = API_KEY  # the key the fakes accept
    label = "the flow as it is (claims as many rows as one API request takes: 500)"
    if claim_chunk:
        import flows.campaign
        from listonosz.sending import BatchSender

        flows.campaign.BatchSender = functools.partial(BatchSender, claim_chunk=claim_chunk)
        label = f"BENCHMARK-ONLY PATCH: claim_chunk {claim_chunk} (the real flow claims 500)"
    from prefect import flow

    flow(name="warm-up")(lambda: None)()  # start Prefect's local server before timing
    fake = FakeApi(name, port)
    try:
        seconds, sent, ending = listonosz_flow(campaign_path)
        ceiling = transport_alone(name, f"http://127.0.0.1:{port}", campaign_path, recipients)
    finally:
        received, cpu = fake.stop()
    assert sent == recipients, f"the flow sent {sent} of {recipients}"
    assert received == 2 * recipients, f"the fake accepted {received}, expected 2 × {recipients}"
    print(
        f"{name}: {recipients} recipients; the flow {seconds:.1f} s ({ending:.1f} s of it after "
        f"its last step: Prefect ending the run); {label}"
    )
    print(f"the fake (another process, same 2 cores) used {cpu:.1f} s of CPU for both runs")
    return {f"Listonosz flow via {name}": sent / seconds, "the transport alone": ceiling}


def measure_postfix(root: Path, recipients: int, limit: int) -> None:
    """Raw smtplib, the flow embedded and on 1 and 2 workers, all against ``smtp-sink``."""
    from benchmarks.scale import Monitor, PostfixSink, cpu_per_message
    from benchmarks.scale import measure as send_command
    from tests.prefectserver import start_prefect_server

    campaign_path = write_project(root / "project", recipients)
    os.environ.update(
        LISTONOSZ_VAR_DIR=str(root / "var"),
        LISTONOSZ_PROJECT_DIR=str(root / "project"),
        LISTONOSZ_CONFIG=str(root / "absent.toml"),
    )
    messages = prebuilt_messages(campaign_path, recipients)

    def raw() -> float:
        sink = PostfixSink(free_port())
        try:
            seconds = raw_smtplib(sink.port, messages)
        finally:
            monitor = Monitor()
            monitor.watch(sink.process.pid, "sink")
            received, _ = sink.stop(monitor)
        assert received == len(messages), f"smtp-sink received {received} of {len(messages)}"
        return seconds

    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    raw_before = raw()
    with start_prefect_server(root / "prefect") as server:
        cases = [
            send_command(
                root, campaign_path, server.api, root / "prefect", recipients, n, limit, PostfixSink
            )
            for n in (0, 1, 2)
        ]
    raw_after = raw()
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    base = 2 * recipients / (raw_before + raw_after)
    print(
        f"{recipients} recipients, Postfix's smtp-sink; raw smtplib {raw_before:.1f} s before, "
        f"{raw_after:.1f} s after; workers --limit {limit}"
    )
    for case in cases:
        peaks = ", ".join(f"{name} {u.peak_mb:.0f} MB" for name, u in case.usage.items())
        print(f"{case.label}: wall {case.wall:.1f} s, sending {case.sending:.1f} s; peaks: {peaks}")
    print(
        f"{'':34}{'whole msg/s':>12}{'× raw':>7}{'sending msg/s':>15}{'× raw':>7}{'CPU ms/msg':>12}"
    )
    print(f"{'raw smtplib (baseline)':34}{base:>12.0f}{1:>7.3f}{base:>15.0f}{1:>7.3f}")
    for case in cases:
        whole = recipients / case.wall
        print(
            f"{'Listonosz ' + case.label:34}{whole:>12.0f}{whole / base:>7.3f}{case.rate:>15.0f}"
            f"{case.rate / base:>7.3f}{cpu_per_message(case):>12.2f}"
        )
    two = cases[-1]
    cost = cpu_per_message(two)
    print(
        f"projection: at {cost:.2f} ms of CPU a message (2 workers, coordinator included), "
        f"N cores send at most N × {1000 / cost:.0f} msg/s"
    )
    whole, sending = recipients / two.wall / base, two.rate / base
    print(
        f"target >= 0.5x raw with 2 workers: whole run {whole:.2f}x "
        f"({'meets' if whole >= 0.5 else 'misses'}), sending {sending:.2f}x "
        f"({'meets' if sending >= 0.5 else 'misses'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--prefect-email", type=int, default=100, help="sample size; 0 skips")
    parser.add_argument(
        "--transport", choices=PROVIDERS, help="send through this provider's local fake"
    )
    parser.add_argument(
        "--claim-chunk", type=int, help="with --transport: benchmark-only BatchSender patch"
    )
    parser.add_argument(
        "--sink",
        choices=("aiosmtpd", "postfix"),
        default="aiosmtpd",
        help="postfix: Postfix's smtp-sink, the flow embedded and on 1 and 2 workers",
    )
    parser.add_argument(
        "--limit", type=int, default=4, help="with --sink postfix: batches a worker sends at once"
    )
    args = parser.parse_args()
    if args.sink == "postfix" and args.transport:
        parser.error("--sink postfix measures SMTP: leave out --transport")
    if args.sink == "postfix":
        root = Path(tempfile.mkdtemp(prefix="listonosz-bench-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        measure_postfix(root, args.recipients, args.limit)
        return
    if args.prefect_email and not args.transport and not importlib.util.find_spec("prefect_email"):
        parser.error(
            "prefect-email (the per-recipient baseline) is not installed: `make bench` installs "
            "it (pip install -e '.[bench]'), or pass --prefect-email 0 to leave it out"
        )
    root = Path(tempfile.mkdtemp(prefix="listonosz-bench-"))
    # Registered first, so it runs last: after Prefect's local server has stopped.
    atexit.register(shutil.rmtree, root, ignore_errors=True)

    if args.transport:
        rates = measure_provider(root, args.recipients, args.transport, args.claim_chunk)
        print(f"{'':32}{'msg/s':>10}")
        for name, value in rates.items():
            verdict = "meets" if value >= 2000 else "misses"
            print(f"{name:32}{value:>10.0f}  ({verdict} 2,000)")
        return

    rates = measure(root, args.recipients, args.prefect_email)
    base = rates["raw smtplib (baseline)"]
    print(f"{'':32}{'msg/s':>10}{'× raw':>10}")
    for name, value in rates.items():
        print(f"{name:32}{value:>10.0f}{value / base:>10.3f}")


if __name__ == "__main__":
    main()
