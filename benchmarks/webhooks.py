"""Webhook ingestion: ``listonosz serve`` against a bare endpoint, in the same run.

    .venv/bin/python benchmarks/webhooks.py [--batches 20] [--singles 5000]

Two servers, each in its own process, both uvicorn with the same settings:

- the bare endpoint: an ASGI app that reads the body and answers 200 (the baseline: what the
  HTTP stack alone costs);
- Listonosz: ``listonosz serve`` with the SendGrid and Mailgun webhooks configured, its store
  (SQLite under a temporary var/) holding one sent delivery for every event posted.

This process is the provider: it signs every request beforehand (SendGrid: ECDSA P-256 over
timestamp + body; Mailgun: HMAC of timestamp + a fresh token each) and posts them over
keep-alive connections (a small asyncio HTTP/1.1 client, so the client is not what is
measured): SendGrid batches of 1,000 events (4 connections), then single Mailgun events (16
connections). For each it prints

- stored and answered: events (or POSTs) per second until the last 200 came back; for
  Listonosz every body was verified and committed to the store before its 200;
- applied: seconds from the first POST until the last stored body was applied (events
  matched, recorded, outcomes raised, suppressions made), and events per second over that.

Targets: >= 10,000 events/s batched and >= 1,000 single-event POSTs/s, stored and answered.
``--bare-only PORT`` serves the bare endpoint (used by this script).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `listonosz` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH = 1000
BOUNCE_EVERY = 50  # one event in 50 is a hard bounce (suppresses its address)
CAMPAIGN = "bench-hooks"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def bare_app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    """Read the whole body, answer 200 with a small JSON body (what Listonosz answers)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"status":"stored"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"19")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    for _ in range(600):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code in (200, 404):
                return
        if process.poll() is not None:
            raise SystemExit(f"the server stopped: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise SystemExit(f"the server did not answer: {log.read_text()[-2000:]}")


async def post_all(
    port: int, path: str, requests: Sequence[tuple[dict[str, str], bytes]], connections: int
) -> tuple[float, list[int]]:
    """POST every request over ``connections`` keep-alive connections; (seconds, statuses)."""
    queue = list(reversed(range(len(requests))))
    statuses = [0] * len(requests)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                index = queue.pop()
                headers, body = requests[index]
                head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
                head += [f"{k}: {v}" for k, v in headers.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                statuses[index] = int(status_line.split()[1])
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - started, statuses


def seed(url: str, count: int) -> list[str]:
    """``count`` sent deliveries in the store; their keys."""
    from listonosz.store import Ledger, Outcome

    keys: list[str] = []
    with contextlib.closing(Ledger(url)) as ledger:
        for start in range(0, count, 5000):
            people = [
                (f"osoba.{n}@gmina{n % 97}.example.pl", "jst", f"<{n}.bench@rops.example>")
                for n in range(start, min(count, start + 5000))
            ]
            claims = ledger.claim(CAMPAIGN, "invitation", people, "bench-run")
            ledger.settle("bench-run", [Outcome(c.key, "sent") for c in claims])
            keys += [c.key for c in claims]
    return keys


def sendgrid_requests(keys: list[str], key: object) -> list[tuple[dict[str, str], bytes]]:
    import orjson

    from tests.fakes.webhooks import sendgrid_headers

    now = int(time.time())
    out = []
    for start in range(0, len(keys), BATCH):
        events = []
        for n, ledger_key in enumerate(keys[start : start + BATCH], start):
            event: dict[str, object] = {
                "email": f"osoba.{n}@gmina{n % 97}.example.pl",
                "timestamp": now,
                "smtp-id": f"<{n}.bench@rops.example>",
                "event": "delivered",
                "response": "250 2.0.0 OK",
                "sg_event_id": secrets.token_urlsafe(16),
                "sg_message_id": f"{secrets.token_hex(11)}.filter0001.{n}.0",
                "ledger_key": ledger_key,
                "campaign": CAMPAIGN,
            }
            if n % BOUNCE_EVERY == 0:
                event |= {"event": "bounce", "type": "bounce", "status": "5.1.1",
                          "reason": "550 5.1.1 user unknown"}  # fmt: skip
            events.append(event)
        body = orjson.dumps(events)
        out.append((sendgrid_headers(key, body), body))  # type: ignore[arg-type]
    return out


def mailgun_requests(keys: list[str], first: int) -> list[tuple[dict[str, str], bytes]]:
    import orjson

    from tests.fakes.webhooks import MAILGUN_SIGNING_KEY, mailgun_signature

    now = time.time()
    out = []
    for n, ledger_key in enumerate(keys, first):
        data = {
            "id": secrets.token_urlsafe(16),
            "timestamp": now,
            "event": "delivered",
            "recipient": f"osoba.{n}@gmina{n % 97}.example.pl",
            "user-variables": {"ledger-key": ledger_key, "campaign": CAMPAIGN},
            "message": {"headers": {"message-id": f"{n}.bench@rops.example"}},
            "delivery-status": {"code": 250, "message": "OK"},
        }
        body = orjson.dumps(
            {"signature": mailgun_signature(MAILGUN_SIGNING_KEY), "event-data": data}
        )
        out.append(({"Content-Type": "application/json"}, body))
    return out


def applied_after(url: str, started: float, deadline: float = 600) -> float:
    """Seconds from ``started`` until the store's inbox has nothing left to apply."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        while time.perf_counter() - started < deadline:
            with engine.connect() as conn:
                left = conn.execute(text("SELECT count(*) FROM inbox WHERE status = 'new'"))
                if left.scalar() == 0:
                    return time.perf_counter() - started
            time.sleep(0.02)
    finally:
        engine.dispose()
    raise SystemExit("the webhooks were not applied within 10 minutes")


def check_store(url: str, events: int) -> str:
    """The store holds every event once and the outcomes they call for; a line saying so."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM events")).scalar()
            failed = conn.execute(text("SELECT count(*) FROM inbox WHERE status <> 'done'"))
            failed_rows = failed.scalar()
            outcomes = dict(
                conn.execute(
                    text("SELECT outcome, count(*) FROM deliveries GROUP BY outcome")
                ).all()
            )
            suppressed = conn.execute(text("SELECT count(*) FROM suppressions")).scalar()
    finally:
        engine.dispose()
    assert stored == events, f"{stored} events stored, {events} posted"
    assert failed_rows == 0, f"{failed_rows} inbox rows not done"
    return (
        f"store:    {stored:,} events recorded once each; outcomes "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items(), key=str))
        + f"; {suppressed:,} addresses suppressed"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="SendGrid batches of 1,000")
    parser.add_argument("--singles", type=int, default=5000, help="single Mailgun events")
    parser.add_argument("--bare-only", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_only:
        serve_bare(args.bare_only)
        return

    from tests.fakes.webhooks import MAILGUN_SIGNING_KEY, new_signing_key, public_key_text

    root = Path(tempfile.mkdtemp(prefix="listonosz-hooks-bench-"))
    url = f"sqlite:///{root / 'var' / 'ledger.sqlite'}"
    batched, singles = args.batches * BATCH, args.singles
    print(f"seeding {batched + singles:,} sent deliveries ...", flush=True)
    keys = seed(url, batched + singles)
    signing = new_signing_key()
    sendgrid = sendgrid_requests(keys[:batched], signing)
    mailgun = mailgun_requests(keys[batched:], batched)
    env = {
        **os.environ,
        "LISTONOSZ_VAR_DIR": str(root / "var"),
        "LISTONOSZ_CONFIG": str(root / "absent.toml"),
        "LISTONOSZ_PROJECT_DIR": str(root),
        "LISTONOSZ_WEBHOOKS__SENDGRID__PUBLIC_KEY": public_key_text(signing),
        "LISTONOSZ_WEBHOOKS__MAILGUN__SIGNING_KEY": MAILGUN_SIGNING_KEY,
    }
    app_port, bare_port = free_port(), free_port()
    listonosz = str(Path(sys.executable).parent / "listonosz")
    logs = root / "serve.log", root / "bare.log"
    with logs[0].open("wb") as out_app, logs[1].open("wb") as out_bare:
        app = subprocess.Popen(
            [listonosz, "serve", "--port", str(app_port)], env=env, stdout=out_app, stderr=out_app
        )
        bare = subprocess.Popen(
            [sys.executable, __file__, "--bare-only", str(bare_port)],
            env=env,
            stdout=out_bare,
            stderr=out_bare,
        )
    try:
        wait_for(f"http://127.0.0.1:{app_port}/healthz", app, logs[0])
        wait_for(f"http://127.0.0.1:{bare_port}/", bare, logs[1])
        lines = [f"SendGrid: {args.batches} batches of {BATCH:,} events, 4 connections"]
        seconds, statuses = asyncio.run(post_all(bare_port, "/hooks/sendgrid", sendgrid, 4))
        assert set(statuses) == {200}, statuses
        base = batched / seconds
        lines.append(f"bare:     {base:,.0f} events/s ({len(sendgrid) / seconds:,.1f} POSTs/s)")
        started = time.perf_counter()
        seconds, statuses = asyncio.run(post_all(app_port, "/hooks/sendgrid", sendgrid, 4))
        assert set(statuses) == {200}, statuses
        applied = applied_after(url, started)
        ours = batched / seconds
        lines.append(
            f"stored:   {ours:,.0f} events/s stored and answered ({ours / base:.2f}x the bare "
            f"endpoint); applied {applied:.2f} s after the first POST ({batched / applied:,.0f}"
            " events/s)"
        )
        batched_ok = ours >= 10_000

        lines.append(f"Mailgun: {singles:,} single events, 16 connections")
        seconds, statuses = asyncio.run(post_all(bare_port, "/hooks/mailgun", mailgun, 16))
        assert set(statuses) == {200}, statuses
        base = singles / seconds
        lines.append(f"bare:     {base:,.0f} POSTs/s")
        started = time.perf_counter()
        seconds, statuses = asyncio.run(post_all(app_port, "/hooks/mailgun", mailgun, 16))
        assert set(statuses) == {200}, statuses
        applied = applied_after(url, started)
        ours = singles / seconds
        lines.append(
            f"stored:   {ours:,.0f} POSTs/s stored and answered ({ours / base:.2f}x the bare "
            f"endpoint); applied {applied:.2f} s after the first POST ({singles / applied:,.0f}"
            " events/s)"
        )
        singles_ok = ours >= 1_000
        lines.append(check_store(url, batched + singles))
        lines.append(
            "targets:  >= 10,000 events/s batched: "
            + ("met" if batched_ok else "NOT met")
            + "; >= 1,000 single-event POSTs/s: "
            + ("met" if singles_ok else "NOT met")
        )
        print("\n".join(lines))
    finally:
        for process in (app, bare):
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)


if __name__ == "__main__":
    main()
