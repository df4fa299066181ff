"""A full Prefect server for tests, as ``prefect server start`` runs it in production (its
scheduler, automations, UI and the rest of its services), on a free loopback port, with its
database on SQLite or PostgreSQL.

The session's usual server (the ``prefect_server`` fixture) is Prefect's temporary test
server on SQLite; tests of schedules, triggers, the UI or Prefect's own PostgreSQL backend
start this one instead (fixtures ``full_prefect`` in tests/e2e/test_schedule.py and
``prefect_on_postgres`` in tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

PREFECT = str(Path(sys.executable).parent / "prefect")

#: How long the server may take to answer /api/health (it migrates a fresh database first).
STARTUP_SECONDS = 180


@dataclass(frozen=True)
class PrefectServer:
    """A running ``prefect server start``.

    ``api`` is its API URL (PREFECT_API_URL; the UI is the same address without ``/api``),
    ``database`` the SQLAlchemy URL of its database as the server uses it
    (``sqlite+aiosqlite://…`` or ``postgresql+asyncpg://…``), ``log`` its output."""

    api: str
    database: str
    home: Path
    log: Path

    @property
    def ui(self) -> str:
        return self.api.removesuffix("/api")

    @property
    def database_for_tests(self) -> str:
        """The same database with a synchronous driver, for a test to read with SQL what the
        server stored (psycopg for PostgreSQL, the standard sqlite3 for SQLite)."""
        from sqlalchemy import make_url

        url = make_url(self.database)
        driver = {"postgresql": "postgresql+psycopg", "sqlite": "sqlite"}[url.get_backend_name()]
        return url.set(drivername=driver).render_as_string(hide_password=False)


@contextlib.contextmanager
def start_prefect_server(
    home: Path, database: str | None = None, *, upgrade_first: bool = False, **settings: str
) -> Iterator[PrefectServer]:
    """``prefect server start`` on a free loopback port until the block ends.

    ``home`` becomes its PREFECT_HOME (its output goes to ``home/server.log``); ``database``
    is its PREFECT_SERVER_DATABASE_CONNECTION_URL, a SQLite file in ``home`` when left out.
    The server migrates its database as it starts; with ``upgrade_first``, as an operator who
    migrates in a step of its own, ``prefect server database upgrade -y`` does it before and
    the server starts with migrating on start switched off. ``settings`` are more PREFECT_*
    variables for the server. The server and everything it started are stopped at the end
    (SIGTERM to its process group, SIGKILL after 30 s)."""
    from tests.conftest import free_port

    home.mkdir(parents=True, exist_ok=True)
    database = database or f"sqlite+aiosqlite:///{home / 'prefect.db'}"
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": database,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no telemetry from tests
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        **settings,
    }
    # the server is configured by the variables above only, never by the caller's
    for name in ("PREFECT_API_URL", "PREFECT_API_DATABASE_CONNECTION_URL"):
        env.pop(name, None)
    log = home / "server.log"
    if upgrade_first:
        env["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] = "false"
        prefect_cli(env, "server", "database", "upgrade", "-y", timeout=STARTUP_SECONDS)
    with log.open("wb") as output:
        server = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert server.poll() is None, f"prefect server start ended:\n{log.read_text()}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        else:
            raise AssertionError(f"prefect server start did not answer: {log.read_text()}")
        yield PrefectServer(api, database, home, log)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def prefect_cli(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run ``prefect --no-prompt ARGS`` in the repository; its output, or a failed test."""
    done = subprocess.run(
        [PREFECT, "--no-prompt", *args],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
