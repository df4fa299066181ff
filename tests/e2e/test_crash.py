"""kill -9 while sending, again and again: nobody is lost, and repeats are only the messages
that were in flight at a kill, with the same Message-ID, counted by the ledger."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, copies_received, free_port
from tests.factories import write_project

RECIPIENTS = 5_000
KILLS = 10
LEASE = 1.5  # seconds: how long a killed run's claims stay untouchable


def _in_flight(ledger: Path) -> set[str]:
    with sqlite3.connect(ledger) as conn:
        return {
            row[0]
            for row in conn.execute("SELECT message_id FROM deliveries WHERE status = 'sending'")
        }


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_9_at_random_points(tmp_path: Path, prefect_server: str) -> None:
    campaign = write_project(tmp_path / "project", RECIPIENTS)
    outbox, var = tmp_path / "outbox", tmp_path / "var"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LISTONOSZ_")},
        "PREFECT_API_URL": prefect_server,
        "LISTONOSZ_VAR_DIR": str(var),
        "LISTONOSZ_PROJECT_DIR": str(tmp_path / "project"),
        "LISTONOSZ_TRANSPORTS__CAPTURE__PORT": str(port),
        "LISTONOSZ_LEASE_SECONDS": str(LEASE),
        "LISTONOSZ_CONFIG": str(tmp_path / "absent.toml"),
    }
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "listonosz.cli",
            "capture-server",
            "--port",
            str(port),
            "--outbox",
            str(outbox),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout and "listening" in sink.stdout.readline()
    command = [sys.executable, "-m", "listonosz.cli", "send", str(campaign), "--batch-size", "250"]
    rng = random.Random(7)
    in_flight: set[str] = set()
    outputs: list[str] = []
    try:
        for _ in range(KILLS):
            done = len(list(outbox.glob("*.eml")))
            target = done + rng.randint(50, 700)  # kill once the sink holds this many
            run = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            deadline = time.monotonic() + 180
            while run.poll() is None and len(list(outbox.glob("*.eml"))) < target:
                assert time.monotonic() < deadline, "the run made no progress"
                time.sleep(0.02)
            if run.poll() is None:
                os.kill(run.pid, signal.SIGKILL)
            run.communicate()
            in_flight |= _in_flight(var / "ledger.sqlite")
            time.sleep(LEASE + 0.5)  # the killed run's heartbeat goes stale
        final = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
        )
        outputs.append(final.stdout + final.stderr)
        assert final.returncode == 0, outputs[-1]
    finally:
        sink.terminate()
        sink.wait(timeout=30)

    copies = copies_received(outbox)
    people = {f"osoba.{n}@gmina{n % 97}.example.pl" for n in range(RECIPIENTS)}
    assert set(copies) == people  # everyone, at least once
    repeated = {address: ids for address, ids in copies.items() if len(ids) > 1}
    for ids in repeated.values():
        assert len(set(ids)) == 1  # a repeat carries the same Message-ID
        assert ids[0] in in_flight  # and was in flight at a kill
    with sqlite3.connect(var / "ledger.sqlite") as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status"))
        taken_over = {
            row[0] for row in conn.execute("SELECT message_id FROM deliveries WHERE takeovers > 0")
        }
    assert statuses == {"sent": RECIPIENTS}
    assert taken_over == in_flight  # every in-flight message was resent and counted
    assert f"Possible duplicates: {len(in_flight)} message(s)" in outputs[-1]
    print(f"{len(in_flight)} in flight at {KILLS} kills, {len(repeated)} received twice")
