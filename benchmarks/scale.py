"""Scale-out: one large campaign on 1 and 2 task workers against PostgreSQL, the embedded
default as the baseline, in the same run; throughput and the peak memory of every process.

    .venv/bin/python benchmarks/scale.py [--recipients 100000] [--limit 4]
    .venv/bin/python benchmarks/scale.py --dry-run-million

Every process is a command as staff would start it (``python -m listonosz.cli``), with the
same settings: a Prefect server (``prefect server start``, its own PREFECT_HOME that every
process shares, so task parameters and results are stored where all of them read), the
Postmark fake of tests/fakes in a process of its own answering every request after 20 ms,
and for each measurement a fresh ledger and ``var/`` folder:

- embedded (the baseline): ``listonosz send CAMPAIGN`` — the batches are threads of the one
  flow process, the ledger SQLite (the run uses the Prefect server too, so that the
  comparison is of the sending path, not of starting a temporary server);
- 1 worker / 2 workers: ``listonosz worker --limit N`` processes, started first, then
  ``listonosz send CAMPAIGN --on-workers``; the ledger a new PostgreSQL database
  (``listonosz db upgrade``) on 127.0.0.1:5432 (LISTONOSZ_BENCH_POSTGRES_URL to change).

Wall time is the ``listonosz send`` process's, from start to exit (preflight included: every
message is rendered and checked before the first claim). The sending rate is the sent rows
divided by the time from the ledger's first claim to its last settlement. Peak resident
memory (ru_maxrss) and CPU seconds of each process come from ``wait4`` as it ends; the Prefect
server's peak (VmHWM) is read from /proc before it stops. Targets: peak <= 300 MB in every
process, 2 workers at least as fast as 1.

``--dry-run-million``: instead, ``listonosz send --dry-run`` of 1,000,000 recipients in the
embedded default, reporting its time and peak memory; it writes about 28 GB of .eml files
(removed at the end), so it first checks that the disk has room.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `listonosz` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories import REPO, write_project

FAKE = "postmark"
FAKE_DELAY = 0.02  # seconds before the fake answers each request
MEMORY_TARGET_MB = 300
POSTGRES = os.environ.get(
    "LISTONOSZ_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Usage:
    """What one process used: its peak resident memory (MB), the highest peak among the
    processes it started (0: none), and CPU seconds (user + system, its children's included)."""

    peak_mb: float
    cpu: float
    children_mb: float = 0.0


@dataclass
class Case:
    """One measurement: how long, how fast, and every process's usage."""

    label: str
    workers: int
    recipients: int
    sent: int = 0
    wall: float = 0.0
    sending: float = 0.0
    usage: dict[str, Usage] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Messages per second while sending (first claim to last settlement)."""
        return self.sent / self.sending if self.sending else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A process of ours, its output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def listonosz(*args: str) -> list[str]:
    return [sys.executable, "-m", "listonosz.cli", *args]


def reap(process: subprocess.Popen[Any], timeout: float, monitor: Monitor | None = None) -> Usage:
    """Wait for ``process`` to end (killed after ``timeout``) and return what it used: CPU from
    ``wait4`` (its children's included), peak memory from ``monitor`` (VmHWM: ``ru_maxrss``
    cannot be used, it counts what the benchmark's own process held when it forked the child).
    """
    if monitor is not None:
        monitor.look()  # a last reading, if it still runs (poll() would reap it)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            deadline = float("inf")
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    label = monitor.roots.get(process.pid) if monitor else None
    assert monitor is not None and label is not None, "every process is watched"
    return Usage(monitor.own.get(label, 0.0), cpu, monitor.children.get(label, 0.0))


class Monitor(threading.Thread):
    """Reads VmHWM (a process's peak resident memory) from /proc, five times a second, for
    the processes it watches and every process they started (the coordinator's preparing
    interpreters): a process's last reading before it ends is its peak."""

    def __init__(self) -> None:
        super().__init__(name="memory-monitor", daemon=True)
        self.roots: dict[int, str] = {}
        self.own: dict[str, float] = {}  # label: the watched process's own peak (MB)
        self.children: dict[str, float] = {}  # label: the highest peak among its descendants
        self.halt = threading.Event()

    def watch(self, pid: int, label: str) -> None:
        self.roots[pid] = label

    def run(self) -> None:
        while not self.halt.wait(0.2):
            self.look()

    def look(self) -> None:
        parent: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        for root, label in list(self.roots.items()):
            self.own[label] = max(self.own.get(label, 0.0), _hwm(root))
            family, grown = {root}, True
            while grown:
                more = {pid for pid, ppid in parent.items() if ppid in family} - family
                family |= more
                grown = bool(more)
            for pid in family - {root}:
                self.children[label] = max(self.children.get(label, 0.0), _hwm(pid))


def _hwm(pid: int) -> float:
    """A running process's VmHWM in MB (0 once it has ended)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_of(pids: list[int]) -> float:
    """The highest VmHWM (MB) among running processes ``pids``."""
    return max((_hwm(pid) for pid in pids), default=0.0)


def server_pids(port: int) -> list[int]:
    """The processes of ``prefect server start --port PORT`` (and the services it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if b"server" in argv and str(port).encode() in argv:
                    found.append(int(entry.name))
    return found


class Fake:
    """The provider fake in its own process; the transport ``bench`` sends to it."""

    name = f"{FAKE} fake"

    def __init__(self, port: int) -> None:
        from benchmarks.send import FakeApi
        from tests.fakes.server import API_KEY

        self.process = FakeApi(FAKE, port).process  # started as send.py starts it
        prefix = "LISTONOSZ_TRANSPORTS__BENCH__"
        self.env = {
            "LISTONOSZ_TRANSPORT": "bench",
            f"{prefix}KIND": FAKE,
            f"{prefix}BASE_URL": f"http://127.0.0.1:{port}",
            f"{prefix}DOMAIN": "rops-bialystok.example",
            f"{prefix}API_KEY": API_KEY,
        }

    def stop(self, monitor: Monitor) -> tuple[int, Usage]:
        """Messages the fake accepted, and what it used."""
        assert self.process.stdout
        monitor.look()
        self.process.terminate()
        out = self.process.stdout.read()
        usage = reap(self.process, 30, monitor)
        return int(out.strip().splitlines()[-1].split()[0]), usage


SMTP_SINK = "/usr/sbin/smtp-sink"


class PostfixSink:
    """Postfix's ``smtp-sink`` (a C SMTP server that discards what it receives) in its own
    process; the default transport (``capture``, SMTP) sends to it. Its ``-c`` counters give
    the messages received."""

    name = "smtp-sink (Postfix)"

    def __init__(self, port: int) -> None:
        if not os.access(SMTP_SINK, os.X_OK):
            sys.exit(f"{SMTP_SINK} is missing: install Debian's postfix (scripts/setup-system.sh)")
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to run as root
        # Its counters go to a file: a pipe nobody reads would fill and stop it.
        self.counters = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen(
            [SMTP_SINK, *user, "-c", f"127.0.0.1:{port}", "1000"],
            stdout=self.counters,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while True:  # listening once a connection is accepted
            assert self.process.poll() is None, self.process.stderr.read()  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "smtp-sink did not listen"
                time.sleep(0.05)
        self.port = port
        self.env = {"LISTONOSZ_TRANSPORTS__CAPTURE__PORT": str(port)}

    def stop(self, monitor: Monitor) -> tuple[int, Usage]:
        """Messages received (its last ``mesg=`` counter), and what it used."""
        monitor.look()
        self.process.terminate()
        usage = reap(self.process, 30, monitor)
        self.counters.seek(0)
        out = self.counters.read().decode()
        self.counters.close()
        counters = re.findall(r"mesg=(\d+)", out)
        return int(counters[-1]) if counters else 0, usage


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (a measurement's ledger, or the Prefect server's own);
    dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text

    name = f"listonosz_bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def sending_window(ledger_url: str) -> tuple[int, float]:
    """Rows sent, and seconds from the first claim to the last settlement."""
    from sqlalchemy import create_engine, text

    engine = create_engine(ledger_url)
    with engine.connect() as conn:
        sent, first, last = conn.execute(
            text(
                "SELECT count(*), min(claimed_at), max(settled_at) FROM deliveries "
                "WHERE status = 'sent'"
            )
        ).one()
    engine.dispose()
    if isinstance(first, str):  # SQLite hands timestamps back as text
        first, last = dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(last)
    return int(sent), (last - first).total_seconds() if sent else 0.0


def base_env(root: Path, api: str, prefect_home: Path) -> dict[str, str]:
    """The settings every process of a measurement shares (ledger and sink added per case)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LISTONOSZ_", "PREFECT_"))},
        "PREFECT_API_URL": api,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "LISTONOSZ_PROJECT_DIR": str(root / "project"),
        "LISTONOSZ_CONFIG": str(root / "absent.toml"),
        # the sinks deliver to nobody: no link in the messages has to work
        "LISTONOSZ_CHECK_PUBLIC_URL": "false",
        # one signing secret for all of them (a worker's links must verify on the web app)
        "LISTONOSZ_TOKEN_SECRET": "benchmark-secret-" + "x" * 32,
    }


def measure(
    root: Path,
    campaign: Path,
    api: str,
    prefect_home: Path,
    recipients: int,
    workers: int,
    limit: int,
    sink_class: type[Fake] | type[PostfixSink] = Fake,
) -> Case:
    """One send of the whole campaign: embedded (``workers`` 0: SQLite, no workers) or on
    ``workers`` worker processes with a new PostgreSQL ledger; a new sink process each."""
    label = (
        "embedded (SQLite)"
        if not workers
        else f"{workers} worker{'s' * (workers > 1)} (PostgreSQL)"
    )
    case = Case(label, workers, recipients)
    env = base_env(root, api, prefect_home)
    var = root / f"var-{uuid.uuid4().hex[:8]}"
    env["LISTONOSZ_VAR_DIR"] = str(var)
    logs = var / "logs"
    logs.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        if workers:
            env["LISTONOSZ_LEDGER_URL"] = stack.enter_context(postgres_database())
            upgrade = subprocess.run(
                listonosz("db", "upgrade"), cwd=REPO, env=env, capture_output=True, text=True
            )
            assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
        ledger_url = env.get("LISTONOSZ_LEDGER_URL") or f"sqlite:///{var / 'ledger.sqlite'}"
        sink = sink_class(free_port())
        env.update(sink.env)
        monitor = Monitor()
        monitor.watch(sink.process.pid, "sink")
        monitor.start()
        pool: list[subprocess.Popen[bytes]] = []
        try:
            pool = [
                start(listonosz("worker", "--limit", str(limit)), env, logs / f"worker-{n}.log")
                for n in range(1, workers + 1)
            ]
            for n, process in enumerate(pool, 1):
                monitor.watch(process.pid, f"worker {n}")
            for n, process in enumerate(pool, 1):  # started once it says so
                log = logs / f"worker-{n}.log"
                deadline = time.monotonic() + 120
                while b"Listonosz worker" not in log.read_bytes():
                    assert process.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, "a worker did not start"
                    time.sleep(0.1)
            time.sleep(2.0)  # and subscribed to the server
            args = ["send", str(campaign), "--no-progress", *(["--on-workers"] if workers else [])]
            began = time.perf_counter()
            send = start(listonosz(*args), env, logs / "send.log")
            monitor.watch(send.pid, "coordinator")
            case.usage["coordinator (listonosz send)"] = reap(send, 3600, monitor)
            case.wall = time.perf_counter() - began
            assert send.returncode == 0, (logs / "send.log").read_text()[-5000:]
        finally:
            monitor.look()  # the workers' last reading before they stop
            for process in pool:
                process.terminate()
            for n, process in enumerate(pool, 1):
                case.usage[f"worker {n} (listonosz worker)"] = reap(process, 60, monitor)
            received, sink_usage = sink.stop(monitor)
            monitor.halt.set()
        case.usage[f"sink ({sink.name})"] = sink_usage
        case.sent, case.sending = sending_window(ledger_url)
    shutil.rmtree(var, ignore_errors=True)
    assert case.sent == recipients, f"{label}: the ledger says {case.sent} sent of {recipients}"
    assert received == recipients, f"{label}: the sink received {received} of {recipients}"
    return case


def cpu_per_message(case: Case) -> float:
    """CPU milliseconds a message of Listonosz's own processes (coordinator and workers)."""
    cpu = sum(u.cpu for name, u in case.usage.items() if not name.startswith("sink"))
    return 1000 * cpu / case.recipients


def show(case: Case) -> None:
    print(
        f"{case.label}: {case.sent:,} sent; wall {case.wall:.1f} s "
        f"({case.recipients / case.wall:,.0f} msg/s whole run); sending {case.sending:.1f} s "
        f"({case.rate:,.0f} msg/s)"
    )
    for name, usage in case.usage.items():
        print(f"    {name:32} peak {usage.peak_mb:6.0f} MB   CPU {usage.cpu:7.1f} s")
        if usage.children_mb:
            print(
                f"      its preparing interpreters   peak {usage.children_mb:6.0f} MB each at most"
            )
    print(f"    CPU of Listonosz's processes: {cpu_per_message(case):.2f} ms a message")


def dry_run_million(root: Path, api: str, prefect_home: Path, recipients: int) -> None:
    """``listonosz send --dry-run`` of ``recipients`` in the embedded default; its peak."""
    need = recipients * 30_000 + 5 * 2**30
    free = shutil.disk_usage(root).free
    if free < need:
        sys.exit(f"--dry-run-million needs {need / 2**30:.0f} GB free: {free / 2**30:.0f} GB")
    started = time.perf_counter()
    campaign = write_project(root / "project", recipients)
    print(f"wrote the project ({recipients:,} recipients) in {time.perf_counter() - started:.0f} s")
    env = base_env(root, api, prefect_home)
    env["LISTONOSZ_VAR_DIR"] = str(root / "var-dry")
    began = time.perf_counter()
    monitor = Monitor()
    send = start(
        listonosz("send", str(campaign), "--dry-run", "--no-progress"), env, root / "dry.log"
    )
    monitor.watch(send.pid, "dry run")
    monitor.start()
    usage = reap(send, 4 * 3600, monitor)
    monitor.halt.set()
    wall = time.perf_counter() - began
    assert send.returncode == 0, (root / "dry.log").read_text()[-3000:]
    written = sum(1 for _ in (root / "var-dry" / "dry-run").glob("*.eml"))
    shutil.rmtree(root / "var-dry", ignore_errors=True)
    print(
        f"dry run of {recipients:,}: {written:,} .eml files in {wall:.0f} s "
        f"({recipients / wall:,.0f} msg/s); listonosz send peak {usage.peak_mb:.0f} MB "
        f"(its preparing interpreters {usage.children_mb:.0f} MB), CPU {usage.cpu:.0f} s "
        "(files removed)"
    )
    peak = max(usage.peak_mb, usage.children_mb)
    verdict = "meets" if peak <= MEMORY_TARGET_MB else "MISSES"
    print(f"memory: peak {peak:.0f} MB ({verdict} <= {MEMORY_TARGET_MB} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=4, help="batches a worker sends at a time")
    parser.add_argument(
        "--dry-run-million",
        action="store_true",
        help="only a 1,000,000-recipient --dry-run (about 28 GB of .eml files, removed after)",
    )
    parser.add_argument(
        "--prefect-db",
        choices=("postgresql", "sqlite"),
        default="postgresql",
        help="the Prefect server's own database (PostgreSQL, as README's Running at scale says)",
    )
    args = parser.parse_args()
    from tests.prefectserver import start_prefect_server

    root = Path(tempfile.mkdtemp(prefix="listonosz-scale-"))
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    prefect_home = root / "prefect"
    try:
        with contextlib.ExitStack() as stack:
            database = None
            if args.prefect_db == "postgresql":
                from sqlalchemy import make_url

                url = make_url(stack.enter_context(postgres_database()))
                database = url.set(drivername="postgresql+asyncpg").render_as_string(False)
            server = stack.enter_context(
                start_prefect_server(prefect_home, database, upgrade_first=bool(database))
            )
            port = int(server.api.rsplit(":", 1)[1].split("/")[0])
            if args.dry_run_million:
                dry_run_million(root, server.api, prefect_home, 1_000_000)
                shutil.rmtree(root, ignore_errors=True)
                return
            campaign = write_project(root / "project", args.recipients)
            cases = [
                measure(root, campaign, server.api, prefect_home, args.recipients, n, args.limit)
                for n in (0, 1, 2)
            ]
            server_peak = peak_of(server_pids(port))
    except BaseException:
        print(f"kept {root} (logs of every process; Prefect's in prefect/server.log)")
        raise
    shutil.rmtree(root, ignore_errors=True)
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    delay = f"{FAKE_DELAY * 1000:.0f} ms"
    print(
        f"{args.recipients:,} recipients; the {FAKE} fake answers after {delay}; "
        f"workers --limit {args.limit}"
    )
    for case in cases:
        show(case)
    print(f"Prefect server on {args.prefect_db} (shared by all three): peak {server_peak:.0f} MB")
    peak = max(max(u.peak_mb, u.children_mb) for case in cases for u in case.usage.values())
    verdict = "meets" if peak <= MEMORY_TARGET_MB else "MISSES"
    print(f"memory: highest peak of any process {peak:.0f} MB ({verdict} <= {MEMORY_TARGET_MB} MB)")
    print(f"{'':28}{'sending msg/s':>14}{'wall s':>9}")
    for case in cases:
        print(f"{case.label:28}{case.rate:>14,.0f}{case.wall:>9.1f}")
    embedded, one, two = cases
    for name, case, base, target in (
        ("2 workers / 1 worker", two, one, " (target >= 1: {})"),
        ("1 worker / embedded", one, embedded, ""),
        ("2 workers / embedded", two, embedded, ""),
    ):
        ratio = case.rate / base.rate
        verdict = target.format("meets" if ratio >= 1 else "MISSES")
        print(f"ratio: {name:21} {ratio:.2f}x sending, {base.wall / case.wall:.2f}x wall{verdict}")


if __name__ == "__main__":
    main()
