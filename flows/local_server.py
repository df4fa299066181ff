"""A temporary Prefect server for one CLI run, when no Prefect server is configured.

Prefect would start one itself, but in the terminal's process group: a Ctrl-C meant for
Listonosz killed the server too, and the run then spent minutes retrying a server that was
gone. This one runs in a session of its own, so only Listonosz decides when it stops: after
the run, or at once on a second Ctrl-C (see :func:`listonosz.stopping.hard_stop`).

Its database (Prefect's SQLite file in ``PREFECT_HOME``) keeps every run's artifacts, the
contacts report among them, so it holds people's addresses: like ``var/``, it is made
readable by its owner only.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    temporary_settings,
)
from prefect.utilities.asyncutils import run_coro_as_sync

from listonosz.errors import ListonoszError
from listonosz.paths import PRIVATE_DIR, PRIVATE_FILE, private_dir, write_private
from listonosz.stopping import before_hard_stop


class ServerDidNotStart(ListonoszError):
    """The temporary Prefect server did not answer in time."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def prefect_api() -> Iterator[None]:
    """The configured Prefect API, or a temporary server of our own while inside."""
    if PREFECT_API_URL.value():
        yield
        return
    with temporary_server() as url:
        os.environ["PREFECT_API_URL"] = url  # threads that start without Prefect's context
        try:
            yield
        finally:
            del os.environ["PREFECT_API_URL"]


@contextmanager
def temporary_server() -> Iterator[str]:
    """Prefect's API on a free loopback port while inside; yields its URL."""
    private_prefect_home()
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],
        # Prefect's own marks for a temporary server: no UI, no background services.
        env={
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        },
        start_new_session=True,
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    url = f"http://127.0.0.1:{port}/api"
    try:
        with before_hard_stop(stop):
            _wait_until_healthy(process, url)
            with temporary_settings(updates={PREFECT_API_URL: url}):
                yield url
                _drain()
    finally:
        stop()


def _drain() -> None:
    """Hand Prefect's queued logs and events to the server before it stops: otherwise they are
    retried, at exit, against a port nobody listens on any more."""

    async def drain() -> None:
        with contextlib.suppress(RuntimeError):  # no log worker was started
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        drained = EventsWorker.drain_all()
        if inspect.isawaitable(drained):
            await drained

    run_coro_as_sync(drain())


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerDidNotStart(
                    f"the temporary Prefect server exited with code {process.returncode}"
                )
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise ServerDidNotStart(
        "the temporary Prefect server did not answer in time; set "
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS higher, or PREFECT_API_URL to a server"
    )


def private_prefect_home() -> None:
    """Make Prefect's home ``0700`` and its SQLite database ``0600``, where they belong to
    this user: the temporary server keeps its database there."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    home = Path(settings.home)
    private_dir(home)
    _tighten(home, PRIVATE_DIR)
    url = settings.server.database.connection_url
    text = url.get_secret_value() if url is not None else ""
    scheme, _, rest = text.partition(":///")
    if scheme.startswith("sqlite") and rest and rest != ":memory:":
        database = Path(rest.split("?", 1)[0])
        if not database.exists():  # an empty file is an empty database: SQLite keeps its mode
            private_dir(database.parent)
            write_private(database, b"")
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            _tighten(path, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    """chmod ``path`` if it exists and is ours; anything else is left alone."""
    with contextlib.suppress(OSError):
        if path.stat().st_uid == os.getuid():
            path.chmod(mode)


def quiet_local_prefect() -> None:
    """Without a Prefect server configured, Prefect starts a temporary local one: keep it quiet.

    Its telemetry heartbeat competes with the run for the server's SQLite file and logs a
    harmless "database is locked" traceback, and its first start (creating its database) can
    outlast the default 20 s on a busy machine. An explicit setting in the environment wins.
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
