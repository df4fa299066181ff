"""The commands staff run, as separate processes: the demo, send, report, capture-server."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import CAMPAIGN, REPO, Capture, free_port

LISTONOSZ = [sys.executable, "-m", "listonosz.cli"]


def _run(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LISTONOSZ_"))}
    env.update(LISTONOSZ_VAR_DIR=str(tmp_path / "var"), **extra)
    return env


@pytest.mark.slow
def test_demo_sends_once_then_nothing(tmp_path: Path) -> None:
    """`make demo` twice, on a fresh var/: one .eml per valid person, then nothing new."""
    env = _clean_env(tmp_path, LISTONOSZ_DEMO_PORT=str(free_port()))
    outbox = tmp_path / "var" / "outbox"

    first = _run(["bash", "scripts/demo.sh"], env)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output
    assert "Traceback" not in output
    assert not [line for line in output.splitlines() if "ERROR" in line], output
    assert len(list(outbox.glob("*.eml"))) == 86
    assert "Sent now: 86" in output

    second = _run(["bash", "scripts/demo.sh"], env)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output
    assert "Nothing new to send" in output
    assert "Traceback" not in output
    assert len(list(outbox.glob("*.eml"))) == 86


def test_send_names_a_broken_campaign_file_without_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "campaigns" / "broken.yaml"
    broken.parent.mkdir()
    text = CAMPAIGN.read_text(encoding="utf-8").replace("group: jst", "group: gminy")
    broken.write_text(text, encoding="utf-8")
    env = _clean_env(tmp_path, LISTONOSZ_PROJECT_DIR=str(tmp_path))
    result = _run([*LISTONOSZ, "send", str(broken)], env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(broken) in result.stderr and "unknown stakeholder group 'gminy'" in result.stderr


def test_send_rejects_an_undeclared_message_kind(tmp_path: Path) -> None:
    result = _run([*LISTONOSZ, "send", str(CAMPAIGN), "--message", "survey"], _clean_env(tmp_path))
    assert result.returncode == 2
    assert "declares no message 'survey'" in result.stderr
    assert "invitation" in result.stderr


def test_sending_on_workers_needs_a_prefect_server_they_all_reach(tmp_path: Path) -> None:
    """Without PREFECT_API_URL a send would start a temporary server no worker can reach, and
    a worker would have nothing to listen to: both say what to set, and send nothing."""
    env = _clean_env(tmp_path)
    send = _run([*LISTONOSZ, "send", str(CAMPAIGN), "--dry-run", "--on-workers"], env)
    assert send.returncode == 2 and "Traceback" not in send.stderr
    assert "--on-workers needs a Prefect server" in send.stderr
    assert "PREFECT_API_URL" in send.stderr
    worker = _run([*LISTONOSZ, "worker"], env)
    assert worker.returncode == 2 and "Traceback" not in worker.stderr
    assert "a worker needs PREFECT_API_URL" in worker.stderr
    assert not (tmp_path / "var" / "dry-run").exists()


def test_capture_server_reports_a_busy_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run(
            [*LISTONOSZ, "capture-server", "--port", str(port)], _clean_env(tmp_path), timeout=30
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_test_to_sends_one_sample_of_every_kind_to_staff_only(tmp_path: Path) -> None:
    from listonosz.transports.capture import start_capture_server

    port = free_port()
    server = start_capture_server(tmp_path / "outbox", "127.0.0.1", port)
    try:
        env = _clean_env(tmp_path, LISTONOSZ_TRANSPORTS__CAPTURE__PORT=str(port))
        result = _run(
            [*LISTONOSZ, "send", str(CAMPAIGN), "--test-to", "Sekretariat@ROPS.example"], env
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    import email
    import email.policy

    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((tmp_path / "outbox").glob("*.eml"))
    ]
    kinds = [
        "invitation",
        "reminder",
        "thank_you",
        "we_missed_you",
        "update",
        "cancellation",
        "newsletter",
    ]
    assert len(messages) == len(kinds)
    assert {str(m["To"]) for m in messages} == {"sekretariat@rops.example"}
    assert all(str(m["Subject"]).startswith("[TEST] ") for m in messages)
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == kinds
    assert not (tmp_path / "var" / "ledger.sqlite").exists()  # samples leave no trace


@pytest.mark.slow
def test_an_address_suppressed_with_the_cli_gets_nothing_then_or_later(
    tmp_path: Path, capture: Capture, prefect_server: str
) -> None:
    """`suppress add`, then `send` twice, each a process of its own: the suppressed person
    gets nothing, everyone else exactly one message, and each summary says so."""
    expected = json.loads((REPO / "tests" / "data" / "contacts_expected.json").read_text())
    gone = expected["emails"][5]
    others = len(expected["emails"]) - 1
    env = _clean_env(
        tmp_path,
        LISTONOSZ_TRANSPORTS__CAPTURE__PORT=str(capture.port),
        PREFECT_API_URL=prefect_server,  # the tests' server: no temporary one per process
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    added = _run([*LISTONOSZ, "suppress", "add", gone.upper(), "--reason", "unsubscribed"], env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"suppressed (unsubscribed): {gone}"

    first = _run([*LISTONOSZ, "send", str(CAMPAIGN)], env)
    assert first.returncode == 0, first.stderr
    assert (
        f"Sent now: {others}; failed: 0; deferred (retried next run): 0; "
        "already settled before this run: 0." in first.stdout.splitlines()
    )
    assert "Not sent to 1 on the suppression list." in first.stdout.splitlines()

    second = _run([*LISTONOSZ, "send", str(CAMPAIGN)], env)
    assert second.returncode == 0, second.stderr
    lines = second.stdout.splitlines()
    assert (
        f"Nothing new to send: all {others} recipients are already settled in the ledger." in lines
    )
    assert "Not sent to 1 on the suppression list." in lines
    assert not [line for line in lines if line.startswith("Left alone")]

    received = Counter(
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["To"]
        .addresses[0]
        .addr_spec
        for path in capture.messages()
    )
    assert gone not in received
    assert sorted(received) == sorted(set(expected["emails"]) - {gone})
    assert set(received.values()) == {1}
