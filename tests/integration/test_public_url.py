"""A send through a real transport refuses to start while the messages' links would be dead:
the placeholder public_url, plain HTTP, or a web app that does not answer over HTTPS."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
import uvicorn

from listonosz.config import Settings
from listonosz.sending import DeadLinkError, check_public_url
from listonosz.web import create_app
from tests.conftest import LISTONOSZ, free_port
from tests.factories import write_project


@pytest.fixture
def real_transport(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings with an SMTP transport named ``relay`` (nothing listens: nothing may be sent)."""
    monkeypatch.setenv("LISTONOSZ_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LISTONOSZ_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("LISTONOSZ_TRANSPORTS__RELAY__HOST", "127.0.0.1")
    monkeypatch.setenv("LISTONOSZ_TRANSPORTS__RELAY__PORT", str(free_port()))
    monkeypatch.delenv("LISTONOSZ_PUBLIC_URL", raising=False)
    monkeypatch.delenv("LISTONOSZ_CHECK_PUBLIC_URL", raising=False)
    return tmp_path


@pytest.fixture
def https_app(real_transport: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The web app over HTTPS on loopback, its certificate from a CA this process trusts."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    key_file, cert_file, ca_file = (real_transport / n for n in ("key.pem", "cert.pem", "ca.pem"))
    cert.private_key_pem.write_to_path(str(key_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    port = free_port()
    config = uvicorn.Config(
        create_app(Settings()),
        host="127.0.0.1",
        port=port,
        ssl_keyfile=str(key_file),
        ssl_certfile=str(cert_file),
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the HTTPS app did not start"
        time.sleep(0.05)
    try:
        yield f"https://localhost:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_placeholder_is_refused(real_transport: Path) -> None:
    with pytest.raises(DeadLinkError, match=r"public_url is still https://listonosz\.localhost"):
        check_public_url(Settings(), "relay")


def test_plain_http_is_refused(real_transport: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTONOSZ_PUBLIC_URL", "http://zaproszenia.rops.example")
    with pytest.raises(DeadLinkError, match="is not HTTPS"):
        check_public_url(Settings(), "relay")


def test_an_app_that_does_not_answer_is_refused(
    real_transport: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LISTONOSZ_PUBLIC_URL", f"https://127.0.0.1:{free_port()}")
    with pytest.raises(DeadLinkError, match=r"/healthz does not answer \(ConnectError"):
        check_public_url(Settings(), "relay")


def test_an_app_that_answers_over_https_passes(
    https_app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LISTONOSZ_PUBLIC_URL", https_app)
    check_public_url(Settings(), "relay")  # no error
    over_https = httpx.get(f"{https_app}/healthz")
    assert over_https.headers["strict-transport-security"].startswith("max-age=")
    monkeypatch.setenv("LISTONOSZ_PUBLIC_URL", f"{https_app}/elsewhere")
    with pytest.raises(DeadLinkError, match="answered 404, not 200"):
        check_public_url(Settings(), "relay")


def test_local_transports_need_no_link(real_transport: Path) -> None:
    for name in ("capture", "outbox"):
        check_public_url(Settings(), name)  # no error: nobody receives these


def test_listonosz_send_refuses_before_anything_is_claimed(real_transport: Path) -> None:
    project = real_transport / "project"
    write_project(project, 3)
    env = {**os.environ, "LISTONOSZ_PROJECT_DIR": str(project)}
    command = [LISTONOSZ, "send", "campaigns/bench.yaml", "--transport", "relay"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refusing to send through 'relay': public_url is still" in done.stderr
    assert "--no-link-check" in done.stderr
    assert not (real_transport / "var" / "ledger.sqlite").exists()  # nothing claimed
