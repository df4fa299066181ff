"""Shared fixtures: a real capture SMTP server, an isolated var/ directory, a Prefect server."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from listonosz.campaign import Campaign, load_campaign
from listonosz.contacts.model import Contact
from listonosz.sending import merge_audience
from listonosz.transports.capture import start_capture_server
from tests import mailstack
from tests.factories import write_project
from tests.prefectserver import PREFECT, PrefectServer, prefect_cli, start_prefect_server

REPO = Path(__file__).resolve().parent.parent
CAMPAIGN = REPO / "campaigns" / "ekonomia-spoleczna-2016.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        default=None,
        help="Write the web pages' screenshots (tests/e2e/test_web_browser.py), the report's "
        "chart (tests/e2e/test_report.py) and the Prefect UI's run form (tests/e2e/"
        "test_schedule.py) to DIR (`make screenshots`: docs/) instead of a temporary folder.",
    )


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where screenshots go: ``--screenshots DIR`` (``make screenshots``: docs/), else tmp."""
    chosen = request.config.getoption("screenshots")
    folder = Path(chosen) if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def copies_received(outbox: Path) -> dict[str, list[str]]:
    """Recipient → the Message-ID of every copy a capture server's outbox holds."""
    parser = BytesHeaderParser()
    copies: dict[str, list[str]] = defaultdict(list)
    for path in outbox.glob("*.eml"):
        with path.open("rb") as handle:
            headers = parser.parse(handle)
        copies[str(headers["To"]).rsplit("<", 1)[-1].rstrip(">")].append(headers["Message-ID"])
    return copies


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


def run_send_campaign(env: dict[str, str], campaign_path: str, watch: int = 240) -> str:
    """Run the send-campaign deployment (40 recipients per batch) and watch it end; the CLI's
    output (it names the flow run's UUID and final state)."""
    return prefect_cli(
        env,
        *("deployment", "run", "send-campaign/send-campaign"),
        *("-p", f"campaign_path={campaign_path}", "-p", "batch_size=40"),
        *("--watch", "--watch-timeout", str(watch)),
        timeout=watch + 60,
    )


@contextlib.contextmanager
def deployed_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """prefect.yaml's deployments on the ``listonosz`` process work pool, as the README says,
    and a worker of that pool (its output in ``log``) while inside."""
    prefect_cli(env, "work-pool", "create", "listonosz", "--type", "process", "--overwrite")
    prefect_cli(env, "deploy", "--all")
    with log.open("w") as output:
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "listonosz"],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield worker
        finally:
            worker.terminate()
            worker.wait(timeout=30)


#: The PostgreSQL server the store tests use (a maintenance database: tests make their own).
POSTGRES_URL = os.environ.get(
    "LISTONOSZ_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class PostgresServer:
    """A reachable PostgreSQL server on which tests create (and drop) their own databases."""

    url: str

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        from sqlalchemy import create_engine, make_url, text

        name = f"listonosz_test_{uuid.uuid4().hex[:16]}"
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        from sqlalchemy import create_engine, make_url, text

        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:  # FORCE: a handle a test left open must not block it
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    """The test PostgreSQL server; skipped when unreachable, except in CI (CI=true) where
    the store must be tested on PostgreSQL: there it fails."""
    from sqlalchemy import create_engine, text

    from listonosz.store import shown

    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return PostgresServer(POSTGRES_URL)
    except Exception as exc:  # no driver, no server, refused login: all say the same
        why = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
    message = (
        f"PostgreSQL at {shown(POSTGRES_URL)} is unusable ({why}); start PostgreSQL on "
        "127.0.0.1:5432 or set LISTONOSZ_TEST_POSTGRES_URL"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true, so the PostgreSQL store tests must run: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_store(postgres: PostgresServer) -> Iterator[str]:
    """One upgraded PostgreSQL store for the session; ``store_url`` empties it per test."""
    from listonosz.store import upgrade_store

    url = postgres.create_database()
    upgrade_store(url)
    yield url
    postgres.drop_database(url)


@pytest.fixture(scope="module")
def prefect_on_postgres(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrefectServer]:
    """A full Prefect server (``prefect server start``, every service running) whose own
    database is a fresh PostgreSQL database on the test server, as Listonosz runs at scale
    (PREFECT_SERVER_DATABASE_CONNECTION_URL=postgresql+asyncpg://…). The database is migrated
    first with ``prefect server database upgrade``, as the README says, and the server starts
    with migrating on start switched off. One per test module; the database is dropped after.

    Point a worker and ``prefect deploy`` at it with PREFECT_API_URL=``server.api``; read what
    Prefect stored with SQL at ``server.database_for_tests``. It has no work pool yet."""
    from sqlalchemy import make_url

    url = postgres.create_database()
    database = make_url(url).set(drivername="postgresql+asyncpg")
    try:
        home = tmp_path_factory.mktemp("prefect-on-postgres")
        connection_url = database.render_as_string(hide_password=False)
        with start_prefect_server(home, connection_url, upgrade_first=True) as server:
            yield server
    finally:
        postgres.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store with nothing in it, on SQLite (a file in a folder yet to be made) and on
    PostgreSQL: the store's tests run on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'store.sqlite'}"
    from sqlalchemy import create_engine, text

    from listonosz.store.schema import metadata

    url = request.getfixturevalue("postgres_store")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)}"))
    engine.dispose()
    return url


#: CI runs every test: a missing system dependency fails there instead of skipping.
IN_CI = os.environ.get("CI", "").lower() in {"true", "1", "yes"}


def unavailable(reason: str) -> NoReturn:
    """A test's system dependency is missing: fail in CI (``CI=true``), skip elsewhere.

    ``reason`` says what is missing and how to get it."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run)", pytrace=False)
    pytest.skip(reason)


LISTONOSZ = str(Path(sys.executable).parent / "listonosz")


@dataclass
class Website:
    """A running ``listonosz serve`` and the project whose invitations link to it."""

    url: str
    project: Path
    campaign: Path
    log: Path


@pytest.fixture
def website(
    tmp_path: Path, listonosz_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Website]:
    """``listonosz serve`` in its own process on a free port, for a project whose event is 30
    days ahead (registration open for 20 more days); messages sent in the test link to it."""
    today = dt.date.today()
    project = tmp_path / "project"
    campaign = write_project(
        project, 5, when=today + dt.timedelta(days=30), deadline=today + dt.timedelta(days=20)
    )
    with serving(project, campaign, tmp_path / "serve.log", monkeypatch) as site:
        yield site


@contextlib.contextmanager
def serving(
    project: Path, campaign: Path, log: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Website]:
    """``listonosz serve`` for ``project`` in its own process on a free port, its output in
    ``log``; LISTONOSZ_PROJECT_DIR and LISTONOSZ_PUBLIC_URL set for the test while inside."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(project))
    monkeypatch.setenv("LISTONOSZ_PUBLIC_URL", url)
    with listonosz_serve(os.environ.copy(), log, port):
        yield Website(url, project, campaign, log)


@contextlib.contextmanager
def listonosz_serve(env: dict[str, str], log: Path, port: int | None = None) -> Iterator[str]:
    """``listonosz serve`` in its own process with ``env`` (its output in ``log``), on ``port``
    or a free one, until the block ends; its base URL once ``/healthz`` answers."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [LISTONOSZ, "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            assert server.poll() is None, log.read_text()
            time.sleep(0.05)
        else:
            raise AssertionError(f"listonosz serve did not answer: {log.read_text()}")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@dataclass
class MailStack:
    """Postfix taking Listonosz's mail and returning real bounces into the Maildir that
    Dovecot serves over IMAP (see tests/mailstack.py for its domains)."""

    postfix: mailstack.Postfix
    dovecot: mailstack.Dovecot


@pytest.fixture
def dovecot_server() -> Iterator[mailstack.Dovecot]:
    """Dovecot alone, on a free loopback port, serving an empty bounce mailbox."""
    reason = mailstack.missing()
    if reason:
        unavailable(reason)
    with mailstack.mail_root() as root, mailstack.dovecot(root) as server:
        yield server


@pytest.fixture
def mail_stack() -> Iterator[MailStack]:
    """Postfix and Dovecot from private configurations on free loopback ports; stopped after."""
    reason = mailstack.missing()
    if reason:
        unavailable(reason)
    with (
        mailstack.mail_root() as root,
        mailstack.dovecot(root) as imap,
        mailstack.postfix(root) as smtp,
    ):
        yield MailStack(smtp, imap)
