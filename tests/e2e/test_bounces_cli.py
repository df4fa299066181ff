"""``listonosz bounces scan`` and ``listonosz bounces fetch`` as staff run them, in their own
processes: scan prints one JSON line per file and touches no store; fetch reads the mailbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests import bouncemail
from tests.conftest import REPO
from tests.mailstack import Dovecot

LISTONOSZ = [sys.executable, "-m", "listonosz.cli"]
SECRET = "a token secret for the CLI tests"
KEY = "d4" * 20


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LISTONOSZ, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LISTONOSZ_"))}
    env.update(
        LISTONOSZ_VAR_DIR=str(tmp_path / "var"),
        LISTONOSZ_CONFIG=str(tmp_path / "absent.toml"),
        LISTONOSZ_TOKEN_SECRET=SECRET,
        **extra,
    )
    return env


def _verp() -> str:
    from listonosz.tracking.verp import verp_address

    return verp_address("bounces@zwroty.example.pl", KEY, SECRET.encode())


def test_scan_prints_one_line_per_file_and_touches_no_store(tmp_path: Path) -> None:
    files = {
        "hard.eml": bouncemail.dsn(_verp(), "jan@gmina.example.pl", status="5.1.1"),
        "block.eml": bouncemail.dsn(_verp(), "ewa@ngo.example.pl", status="5.7.26"),
        "ooo.eml": bouncemail.autoreply(_verp(), "ola@wp.example.pl", "Nieobecność"),
        "stray.eml": bouncemail.plain("bounces@zwroty.example.pl"),
    }
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    paths = [str(tmp_path / name) for name in files]
    run = _run(["bounces", "scan", *paths, str(tmp_path / "missing.eml")], _env(tmp_path))
    assert run.returncode == 2
    assert f"cannot read {tmp_path / 'missing.eml'}: No such file" in run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(Path(line["file"]).name, line["kind"]) for line in lines] == [
        ("hard.eml", "hard"),
        ("block.eml", "block"),
        ("ooo.eml", "autoreply"),
        ("stray.eml", "unknown"),
    ]
    hard = lines[0]
    assert set(hard) >= {"file", "kind", "recipients", "status", "diagnostic", "delivery_key"}
    assert hard["recipients"] == ["jan@gmina.example.pl"]
    assert (hard["status"], hard["delivery_key"], hard["signed"]) == ("5.1.1", KEY, True)
    assert hard["diagnostic"].startswith("550 5.1.1")
    assert not (tmp_path / "var").exists()  # no store, no secret file, nothing written


def test_fetch_reads_the_mailbox_and_without_one_says_what_to_set(
    tmp_path: Path, dovecot_server: Dovecot
) -> None:
    dovecot_server.append(bouncemail.dsn(_verp(), "jan@gmina.example.pl"))
    dovecot_server.append(bouncemail.plain("bounces@zwroty.example.pl"))
    unset = _run(["bounces", "fetch"], _env(tmp_path))
    assert unset.returncode == 2
    assert "no bounce mailbox is configured: set LISTONOSZ_BOUNCES__HOST" in unset.stderr
    env = _env(
        tmp_path,
        LISTONOSZ_BOUNCES__HOST="127.0.0.1",
        LISTONOSZ_BOUNCES__PORT=str(dovecot_server.port),
        LISTONOSZ_BOUNCES__SECURITY="plain",
        LISTONOSZ_BOUNCES__USERNAME=dovecot_server.user,
        LISTONOSZ_BOUNCES__PASSWORD=dovecot_server.password,
    )
    run = _run(["bounces", "fetch"], env)
    assert run.returncode == 0, run.stderr
    assert "Read 2 messages: hard 1, unknown 1" in run.stdout
    assert "Recorded 1 events (0 already recorded, 1 matching no delivery)" in run.stdout
    assert "Suppressed: hard_bounce 1" in run.stdout  # by its address: nothing sent matches
    assert (dovecot_server.count("Processed"), dovecot_server.count("Unrecognised")) == (1, 1)
    wrong = _run(["bounces", "fetch"], {**env, "LISTONOSZ_BOUNCES__PASSWORD": "wrong"})
    assert wrong.returncode == 2 and "cannot log in to the bounce mailbox" in wrong.stderr
    assert "Traceback" not in wrong.stderr
