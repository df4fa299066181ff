"""One campaign sent by two task workers against a PostgreSQL ledger; one of them is killed
with kill -9 in the middle of a batch. Everyone gets the message; the only repeats are rows the
dead worker had in flight, resent with the same Message-ID and counted; both workers sent."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import REPO, PostgresServer, copies_received, free_port
from tests.factories import write_project

RECIPIENTS = 3_000
RATE_PER_MINUTE = 2_400  # 40 a second per worker process: a run of about half a minute
LEASE_SECONDS = 6


@pytest.fixture
def ledger_url(postgres: PostgresServer) -> Iterator[str]:
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "listonosz.cli", *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_workers_one_killed_mid_batch_everyone_once_but_its_in_flight_rows(
    tmp_path: Path, prefect_server: str, ledger_url: str
) -> None:
    campaign = write_project(tmp_path / "project", RECIPIENTS)
    outbox, port = tmp_path / "outbox", free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LISTONOSZ_")},
        "PREFECT_API_URL": prefect_server,
        "LISTONOSZ_PROJECT_DIR": str(campaign.parent.parent),
        "LISTONOSZ_VAR_DIR": str(tmp_path / "var"),
        "LISTONOSZ_CONFIG": str(tmp_path / "absent.toml"),
        "LISTONOSZ_LEDGER_URL": ledger_url,
        "LISTONOSZ_LEASE_SECONDS": str(LEASE_SECONDS),
        "LISTONOSZ_TRANSPORTS__CAPTURE__PORT": str(port),
        "LISTONOSZ_TRANSPORTS__CAPTURE__RATE_PER_MINUTE": str(RATE_PER_MINUTE),
    }
    assert (
        subprocess.run(
            [sys.executable, "-m", "listonosz.cli", "db", "upgrade"], env=env, cwd=REPO
        ).returncode
        == 0
    )
    sink = _start(
        ["capture-server", "--port", str(port), "--outbox", str(outbox)], env, tmp_path / "sink.log"
    )
    workers = [
        _start(["worker", "--limit", "2"], env, tmp_path / f"worker-{n}.log") for n in (1, 2)
    ]
    try:
        send = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "listonosz.cli",
                "send",
                str(campaign),
                "--on-workers",
                "--batch-size",
                "100",
                "--no-progress",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        engine = create_engine(ledger_url)
        victim = workers[0]
        deadline = time.monotonic() + 300
        # Kill the first worker once it has sent a good part, in the middle of its batches.
        while True:
            assert send.poll() is None, send.communicate()[0]
            assert time.monotonic() < deadline, "the run made no progress"
            with engine.connect() as conn:
                in_flight = conn.scalar(
                    text("SELECT count(*) FROM deliveries WHERE status = 'sending'")
                )
                sent = conn.scalar(text("SELECT count(*) FROM deliveries WHERE status = 'sent'"))
            if sent >= RECIPIENTS // 3 and in_flight:
                break
            time.sleep(0.05)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        with engine.connect() as conn:  # what the dead worker held: left in flight
            left = conn.execute(
                text(
                    "SELECT d.key, d.claim_token FROM deliveries d JOIN runs r "
                    "ON r.run_id = d.claim_token WHERE d.status = 'sending'"
                )
            ).all()
        output, _ = send.communicate(timeout=400)
        assert send.returncode == 0, output
        with engine.connect() as conn:
            statuses = dict(
                conn.execute(text("SELECT status, count(*) FROM deliveries GROUP BY 1")).all()
            )
            taken_over = {
                key
                for (key,) in conn.execute(text("SELECT key FROM deliveries WHERE takeovers > 0"))
            }
            emails_taken_over = {
                email
                for (email,) in conn.execute(
                    text("SELECT email FROM deliveries WHERE takeovers > 0")
                )
            }
        engine.dispose()
    finally:
        for process in [*workers, sink]:
            if process.poll() is None:
                process.terminate()
        for process in [*workers, sink]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    copies = copies_received(outbox)
    people = {f"osoba.{n}@gmina{n % 97}.example.pl" for n in range(RECIPIENTS)}
    assert set(copies) == people  # nobody missed
    assert statuses == {"sent": RECIPIENTS}
    repeats = {email: ids for email, ids in copies.items() if len(ids) > 1}
    # Repeats only where the dead worker had a row in flight, each with one Message-ID.
    assert set(repeats) <= emails_taken_over
    assert all(len(set(ids)) == 1 and len(ids) == 2 for ids in repeats.values())
    # Taken over: only rows in flight at the kill, at most the dead worker's 2 threads × one
    # SMTP claim chunk (20) of them (the live worker's rows in flight then were its own).
    assert taken_over <= {key for key, _ in left}
    assert 0 < len(taken_over) <= 2 * 20
    # The report counts them, and says both workers sent part of the campaign.
    counted = re.search(r"Possible duplicates: (\d+)", output)
    assert counted is not None and int(counted.group(1)) == len(taken_over) > 0, output
    share = re.search(r"Sent by (\d+) worker\(s\), in batches they finished: (.*)\.", output)
    assert share is not None and int(share.group(1)) == 2, output
    per_worker = Counter(
        {name: int(n) for name, n in (part.rsplit(" ", 1) for part in share.group(2).split(", "))}
    )
    assert all(n > 0 for n in per_worker.values())
    assert f":{victim.pid}" in share.group(2)  # the dead one had finished batches before
