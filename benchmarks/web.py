"""Web app throughput: one-click unsubscribes and RSVP pages against a bare ASGI endpoint, in
the same run.

    .venv/bin/python benchmarks/web.py [--seconds 10] [--connections 16] [--deliveries 40000]

Three servers, each in its own process with uvicorn's settings of ``listonosz serve``
(``listonosz.web.uvicorn_options``: its access log off; ours on, into a file):

- the baseline: a bare ASGI app that reads the request (its body too) and answers 200;
- ``listonosz serve`` itself, over a store with ``--deliveries`` sent invitations of an event
  30 days ahead (seeded into SQLite under a temporary folder), for:
  - one-click unsubscribe: ``POST /u/{token}`` with ``List-Unsubscribe=One-Click`` as
    multipart/form-data, as Gmail sends it, to the deliveries in turn: three in four are a
    first unsubscribe (an event and a suppression written), one in four repeats an earlier one;
  - the RSVP page: ``GET /r/{token}`` of the deliveries in turn (a page rendered from the store).

The load generator is wrk (the Debian package; ``make bench`` installs it), one thread in its
own process, with ``benchmarks/web.lua`` walking the list of requests. Each measurement
follows a short warm-up; every answer must be a 200 (wrk counts anything else as an error).
It prints requests/s, latency percentiles and each ratio to the bare endpoint. The target:
one-click ≥ 1,000 requests/s with p99 ≤ 50 ms, and ≥ 0.4× the bare endpoint.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `listonosz` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories import REPO, seed_deliveries, write_project

LUA = REPO / "benchmarks" / "web.lua"
LISTONOSZ = Path(sys.executable).parent / "listonosz"
CAMPAIGN_ID = "ekonomia-spoleczna-2016"
SECRET = "benchmark-secret"
TARGET_RPS, TARGET_P99_MS, TARGET_RATIO = 1000, 50.0, 0.4


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The baseline: read the whole request, answer 200 with a two-byte body."""
    if scope["type"] != "http":  # lifespan: nothing to start
        message = await receive()
        while message["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


def run_bare(port: int) -> None:
    """The baseline server (``--bare PORT``, in its own process)."""
    import uvicorn

    from listonosz.web import uvicorn_options

    uvicorn.run(bare, **uvicorn_options(port=port))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server in its own process, ready when ``/healthz`` (or ``/``) answers."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        import httpx

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, str(self.port)], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        for _ in range(400):
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        raise SystemExit(f"the server did not answer: {log.read_text()[-2000:]}")

    def cpu(self) -> float:
        """CPU seconds the server has used so far, all its threads (Linux: /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> float:
        """Stop it; the CPU seconds it used (from the kernel's accounting of the child)."""
        self.process.terminate()
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return usage.ru_utime + usage.ru_stime


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    cpu_us: float = 0.0  # the server's CPU time per request

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(
    name: str, server: Server, requests: Path, mode: str, seconds: int, connections: int
) -> Result:
    """One wrk run of ``requests`` (a file of "METHOD PATH" lines) against ``server``."""
    url = server.url
    cpu = server.cpu()
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
        "--",
        str(requests),
        mode,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    found = json.loads(lines[-1])
    errors = sum(found[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Result(
        name,
        found["requests"],
        found["duration_us"] / 1e6,
        found["p50_us"] / 1000,
        found["p90_us"] / 1000,
        found["p99_us"] / 1000,
        errors,
        (server.cpu() - cpu) / max(found["requests"], 1) * 1e6,
    )


def request_file(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measurement")
    parser.add_argument("--connections", type=int, default=16, help="wrk's open connections")
    parser.add_argument("--deliveries", type=int, default=40_000, help="sent invitations")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (logs, store)")
    parser.add_argument("--bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        run_bare(args.bare)
        return 0
    if shutil.which("wrk") is None:
        print(
            "wrk (the load generator) is not installed: `make bench` installs it, or "
            "`sudo apt-get install wrk`",
            file=sys.stderr,
        )
        return 2

    from listonosz.mail import sign_token
    from listonosz.store import SuppressionList

    with tempfile.TemporaryDirectory(prefix="listonosz-bench-web-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        today = dt.date.today()
        project = root / "project"
        write_project(
            project, 1, when=today + dt.timedelta(days=30), deadline=today + dt.timedelta(days=20)
        )
        store = f"sqlite:///{root / 'var' / 'ledger.sqlite'}"
        started = time.perf_counter()
        emails = [f"osoba.{n}@gmina{n % 97}.example.pl" for n in range(args.deliveries)]
        keys = seed_deliveries(store, CAMPAIGN_ID, "invitation", emails)
        print(f"seeded {len(keys):,} deliveries in {time.perf_counter() - started:.1f} s")

        secret = SECRET.encode()
        unsubscribe = [f"POST /u/{sign_token(secret, 'unsubscribe', k=key)}" for key in keys]
        # three first unsubscribes, then a repeat of one made a hundred requests before
        one_click: list[str] = []
        for n, line in enumerate(unsubscribe):
            one_click.append(line)
            if n % 3 == 2 and len(one_click) > 100:
                one_click.append(one_click[-100])
        warm, measured = one_click[:2000], one_click[2000:]
        rsvp = [f"GET /r/{sign_token(secret, 'rsvp', k=key, a='yes')}" for key in keys]

        env = {k: v for k, v in os.environ.items() if not k.startswith("LISTONOSZ_")}
        env.update(
            LISTONOSZ_VAR_DIR=str(root / "var"),
            LISTONOSZ_PROJECT_DIR=str(project),
            LISTONOSZ_LEDGER_URL=store,
            LISTONOSZ_TOKEN_SECRET=SECRET,
            LISTONOSZ_CONFIG=str(root / "absent.toml"),
        )
        files = {
            "bare": request_file(root / "bare.txt", ["POST /"] * 100),
            "warm": request_file(root / "warm.txt", warm),
            "one-click": request_file(root / "one-click.txt", measured),
            "rsvp": request_file(root / "rsvp.txt", rsvp),
        }
        seconds, connections = args.seconds, args.connections
        warmup = min(2, seconds)

        baseline = Server(
            [sys.executable, str(Path(__file__).resolve()), "--bare"], env, root / "bare.log"
        )
        try:
            wrk("warm-up", baseline, files["bare"], "multipart", warmup, connections)
            bare_result = wrk(
                "bare ASGI endpoint (baseline)",
                baseline,
                files["bare"],
                "multipart",
                seconds,
                connections,
            )
        finally:
            bare_cpu = baseline.stop()

        app = Server([str(LISTONOSZ), "serve", "--port"], env, root / "serve.log")
        try:
            wrk("warm-up", app, files["warm"], "multipart", warmup, connections)
            with SuppressionList(store, secret) as suppressions:
                before = len(suppressions.entries())
            click = wrk(
                "one-click unsubscribe POST",
                app,
                files["one-click"],
                "multipart",
                seconds,
                connections,
            )
            with SuppressionList(store, secret) as suppressions:
                written = len(suppressions.entries()) - before
            wrk("warm-up", app, files["rsvp"], "get", warmup, connections)
            page = wrk("RSVP page GET", app, files["rsvp"], "get", seconds, connections)
        finally:
            app_cpu = app.stop()

    results = [bare_result, click, page]
    print(
        f"Machine: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores; wrk -t1 -c{connections}, "
        f"{seconds:g} s per measurement; server CPU: bare {bare_cpu:.1f} s, "
        f"listonosz serve {app_cpu:.1f} s"
    )
    print(
        f"one-click: {written:,} of {click.requests:,} POSTs were first unsubscribes "
        "(an event and a suppression written), the rest repeats"
    )
    failed = [r.name for r in results if r.errors]
    if failed:
        print(f"FAIL: answers other than 200, or socket errors, in: {', '.join(failed)}")
    ratio = click.rps / bare_result.rps
    met = (
        click.rps >= TARGET_RPS
        and click.p99_ms <= TARGET_P99_MS
        and ratio >= TARGET_RATIO
        and not failed
    )
    print(
        f"{'':31}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'× bare':>9}{'CPU µs/req':>12}"
    )
    for r in results:
        print(
            f"{r.name:<31}{r.rps:>9,.0f}{r.p50_ms:>9.1f}{r.p90_ms:>9.1f}{r.p99_ms:>9.1f}"
            f"{r.rps / bare_result.rps:>9.3f}{r.cpu_us:>12,.0f}"
        )
    print(
        f"target: one-click >= {TARGET_RPS:,} req/s, p99 <= {TARGET_P99_MS:g} ms, "
        f">= {TARGET_RATIO}x bare: {'met' if met else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
