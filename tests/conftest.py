"""Shared fixtures: a real capture SMTP server, an isolated var/ directory, a Prefect server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from listonosz.campaign import Campaign, load_campaign
from listonosz.capture import start_capture_server
from listonosz.contacts.model import Contact
from listonosz.pipeline import merge_audience

REPO = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).parent / "prefect")
CAMPAIGN = REPO / "campaigns" / "ekonomia-spoleczna-2016.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Capture:
    port: int
    outbox: Path

    def messages(self) -> list[Path]:
        return sorted(self.outbox.glob("*.eml"))


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[Capture]:
    """A capture SMTP server on a free loopback port, storing into its own outbox."""
    outbox = tmp_path / "outbox"
    port = free_port()
    controller = start_capture_server(outbox, "127.0.0.1", port)
    try:
        yield Capture(port, outbox)
    finally:
        controller.stop()


@pytest.fixture
def listonosz_env(tmp_path: Path, capture: Capture, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings from the environment, as a worker has them: var/ in tmp, SMTP to the capture."""
    var = tmp_path / "var"
    monkeypatch.setenv("LISTONOSZ_VAR_DIR", str(var))
    monkeypatch.setenv("LISTONOSZ_TRANSPORTS__CAPTURE__PORT", str(capture.port))
    monkeypatch.setenv("LISTONOSZ_CONFIG", str(tmp_path / "absent.toml"))
    return var


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A real, temporary Prefect server (its own database) for the whole session."""
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # no telemetry from tests
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield str(PREFECT_API_URL.value())


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    """The seminar campaign of campaigns/, as the repository ships it."""
    return load_campaign(CAMPAIGN)


@pytest.fixture(scope="module")
def audience(campaign: Campaign) -> list[Contact]:
    """The seminar's merged audience (86 people)."""
    return merge_audience(campaign).contacts


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A copy of templates/ that a test may change."""
    folder = tmp_path / "templates"
    shutil.copytree(REPO / "templates", folder)
    return folder


def prefect_cli(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run ``prefect --no-prompt ARGS`` in the repository; its output, or a failed test."""
    done = subprocess.run(
        [PREFECT, "--no-prompt", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def deploy(env: dict[str, str]) -> None:
    """prefect.yaml's deployments on the ``listonosz`` process work pool, as the README says."""
    prefect_cli(env, "work-pool", "create", "listonosz", "--type", "process", "--overwrite")
    prefect_cli(env, "deploy", "--all")


#: CI runs every test: a missing system dependency fails there instead of skipping.
IN_CI = os.environ.get("CI", "").lower() in {"true", "1", "yes"}


def unavailable(reason: str) -> NoReturn:
    """A test's system dependency is missing: fail in CI (``CI=true``), skip elsewhere.

    ``reason`` says what is missing and how to get it."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run)", pytrace=False)
    pytest.skip(reason)
