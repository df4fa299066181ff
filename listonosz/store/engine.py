"""One engine per database URL, shared by every part of the store, and its schema kept current.

:class:`StoreHandle` (the base of ``Ledger`` and ``SuppressionList``) takes the URL's engine
from a per-process cache and lets go of it on ``close()``; the engine is disposed when its last
handle closes (``dispose_all`` drops every one, e.g. at the end of a test session).

The schema is Alembic's (``migrations/``, shipped in the package). The first open of a URL in
a process checks its revision: SQLite (the embedded default under ``var/``) upgrades itself
then and there, inside one ``BEGIN IMMEDIATE`` transaction so two processes opening it at once
do not both migrate; PostgreSQL, shared by workers that may run different releases, is never
changed behind the operator's back: a database that is behind raises :class:`StoreError`
telling them to run ``listonosz db upgrade``. A database written by 0.1 (tables, no
``alembic_version``) is revision 0001's schema, which that revision recognises and keeps.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from importlib.resources import files
from typing import Self

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, func, make_url, select
from sqlalchemy.engine.interfaces import DBAPIConnection

from listonosz.errors import ListonoszError
from listonosz.paths import private_sqlite

log = logging.getLogger(__name__)

#: The key of the PostgreSQL advisory lock that serialises ``listonosz db upgrade``.
UPGRADE_LOCK = 0x6C69_7374_6F6E  # "liston"

#: How long SQLite waits for another writer before giving up (seconds).
SQLITE_BUSY_TIMEOUT = 30


class StoreError(ListonoszError, RuntimeError):
    """A store this Listonosz cannot use as it is: behind (or ahead of) its migrations."""


def alembic_config() -> Config:
    """Alembic's configuration, built in code: the migrations are a folder of this package."""
    config = Config()
    config.set_main_option("script_location", str(files("listonosz.store") / "migrations"))
    return config


@functools.cache
def head() -> str:
    """The newest migration this Listonosz ships."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "the package ships no migrations"
    return revision


def shown(url: str | URL) -> str:
    """The URL as messages show it: never its password."""
    return make_url(url).render_as_string(hide_password=True)


def current_revision(conn: Connection) -> str | None:
    """The database's revision; None when it has none (empty, or written by 0.1)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str) -> tuple[str | None, str]:
    """Upgrade the store at ``url`` to :func:`head`; returns (revision before, after).

    Safe to run from several places at once: SQLite takes its write lock first, PostgreSQL
    an advisory lock, and whoever comes second finds nothing left to do.
    """
    engine = _create(url)
    try:
        return _upgrade(engine)
    finally:
        engine.dispose()


def _upgrade(engine: Engine) -> tuple[str | None, str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # DDL and version in one transaction
        elif engine.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(UPGRADE_LOCK)))
        before = current_revision(conn)
        _check_known(before, engine)
        if before != head():
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        conn.commit()
        return before, head()


def _check_known(revision: str | None, engine: Engine) -> None:
    """Refuse a revision that is not one of ours rather than guess what its tables hold."""
    if revision is None or revision in _revisions():
        return
    raise StoreError(
        f"the store at {shown(engine.url)} is at revision {revision}, which is not one of "
        f"this Listonosz's migrations (its newest is {head()}): a newer release upgraded it "
        "(use that release), or the URL names another application's database"
    )


@functools.cache
def _revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(s.revision for s in script.walk_revisions())


def _ensure_current(engine: Engine) -> None:
    """SQLite: upgrade now. PostgreSQL and others: refuse a store that is behind."""
    with engine.connect() as conn:
        revision = current_revision(conn)
    if revision == head():
        return
    _check_known(revision, engine)
    if engine.dialect.name == "sqlite":
        _upgrade(engine)
        return
    where = shown(engine.url)
    state = f"at revision {revision}" if revision else "not set up by Alembic (empty, or 0.1)"
    raise StoreError(
        f"the store at {where} is {state}; this Listonosz needs revision {head()}. "
        "Run `listonosz db upgrade` (with the same LISTONOSZ_LEDGER_URL) once, then start again"
    )


def _create(url: str) -> Engine:
    private_sqlite(url)  # it holds addresses: readable by its owner only
    if not url.startswith("sqlite"):
        return create_engine(url)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False}
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    """WAL (readers never wait for the writer) with ``synchronous=NORMAL``: a commit writes
    the WAL without waiting for the disk, which syncs at each checkpoint. A commit so
    survives the process crashing; a power cut or kernel crash may lose the last commits
    (never the database's consistency). ``FULL`` would add an fsync to every commit."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
    cursor.close()


@dataclass
class _Shared:
    engine: Engine
    users: int
    pid: int


_lock = threading.Lock()
_engines: dict[str, _Shared] = {}


def open_engine(url: str) -> Engine:
    """The engine of ``url``, made (and its schema checked) by the first caller in the process;
    every call must be matched by one :func:`release_engine`."""
    with _lock:
        shared = _engines.get(url)
        if shared is not None and shared.pid != os.getpid():  # a forked child: not its pool
            _forget_inherited()
            shared = None
        if shared is None:
            engine = _create(url)
            try:
                _ensure_current(engine)
            except BaseException:
                engine.dispose()
                raise
            shared = _engines[url] = _Shared(engine, 0, os.getpid())
        shared.users += 1
        return shared.engine


def release_engine(url: str) -> None:
    """One user fewer of ``url``'s engine; the last one disposes it (closes its connections)."""
    with _lock:
        shared = _engines.get(url)
        if shared is None or shared.pid != os.getpid():
            return
        shared.users -= 1
        if shared.users <= 0:
            del _engines[url]
            shared.engine.dispose()


def dispose_all() -> None:
    """Dispose every shared engine, whoever still holds it (their next query reconnects)."""
    with _lock:
        for shared in _engines.values():
            shared.engine.dispose(close=shared.pid == os.getpid())
        _engines.clear()


def _forget_inherited() -> None:
    for shared in _engines.values():
        shared.engine.dispose(close=False)  # the parent's connections stay the parent's
    _engines.clear()


class Checkpointer:
    """SQLite: checkpoints the WAL every ``interval`` seconds in a thread of its own, instead of
    in whichever commit takes the WAL past 1,000 pages; that commit would wait for the
    checkpoint's fsyncs (100 ms and more on a busy disk) and so would everyone queued behind
    it. For a long-running process that answers requests (``listonosz serve``); a no-op on
    other databases.

    While it runs, the URL's connections opened from then on have SQLite's automatic
    checkpoint off (the shared pool is emptied at the start and at the end, so each phase's
    connections are opened with that phase's setting). A PASSIVE checkpoint waits for nobody:
    readers and the writer carry on meanwhile.
    """

    def __init__(self, url: str, interval: float = 0.5) -> None:
        self.url = url
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None

    def start(self) -> None:
        if not self.url.startswith("sqlite") or self._thread is not None:
            return
        self._engine = open_engine(self.url)
        event.listen(self._engine, "connect", _no_autocheckpoint)
        self._engine.dispose()  # pooled connections have it on: open new ones
        self._stop.clear()
        self._thread = threading.Thread(target=self._work, name="listonosz-checkpoint", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread after one last checkpoint; connections get the automatic one back."""
        if self._thread is None or self._engine is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        event.remove(self._engine, "connect", _no_autocheckpoint)
        self._engine.dispose()
        self._engine = None
        release_engine(self.url)

    def checkpoint(self) -> None:
        """One PASSIVE checkpoint now."""
        assert self._engine is not None, "start() first"
        with self._engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()

    def _work(self) -> None:
        while not self._stop.wait(self.interval):
            self._checkpoint_logged()
        self._checkpoint_logged()

    def _checkpoint_logged(self) -> None:
        try:
            self.checkpoint()
        except Exception as exc:  # a store gone away: the next round tries again
            log.warning("store: a WAL checkpoint failed: %s", type(exc).__name__)


def _no_autocheckpoint(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class StoreHandle:
    """Something that uses the store at one URL: holds the shared engine until ``close()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = open_engine(url)
        self._closed = False

    def close(self) -> None:
        """Let go of the engine; safe to call twice. Its pool closes with its last user."""
        if not self._closed:
            self._closed = True
            release_engine(self.url)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
