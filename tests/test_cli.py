"""The commands staff run, as separate processes: the demo, send, report, capture-server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CAMPAIGN, REPO, free_port

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
    from listonosz.capture import start_capture_server

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
    kinds = ["invitation", "reminder", "thank_you", "we_missed_you", "newsletter"]
    assert len(messages) == len(kinds)
    assert {str(m["To"]) for m in messages} == {"sekretariat@rops.example"}
    assert all(str(m["Subject"]).startswith("[TEST] ") for m in messages)
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == kinds
    assert not (tmp_path / "var" / "ledger.sqlite").exists()  # samples leave no trace
