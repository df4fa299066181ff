"""The background checkpointer of a SQLite store (what ``listonosz serve`` runs): while it
runs, no commit checkpoints the WAL (the WAL grows past SQLite's 1,000 pages), its thread does
(every frame copied back), and after it stops, connections checkpoint on their own again."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine

from listonosz.store import Checkpointer, Ledger

PAGE = 4096


def _write(engine: Engine, pages: int) -> None:
    """About ``pages`` pages of rows, in commits of 25 pages each."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (data BLOB)")
    for _ in range(pages // 25):
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO filler VALUES (randomblob(4000))", [()] * 25)


def test_no_commit_checkpoints_while_it_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    database, wal = tmp_path / "store.sqlite", tmp_path / "store.sqlite-wal"
    with Ledger(url) as ledger:
        checkpoints = Checkpointer(url, interval=3600)  # its thread stays asleep
        checkpoints.start()
        try:
            with ledger.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
            before = database.stat().st_size
            _write(ledger.engine, 1500)
            # SQLite's own checkpoint would have copied the pages at about 1,000
            assert database.stat().st_size == before
            assert wal.stat().st_size > 1400 * PAGE
            checkpoints.checkpoint()
            assert database.stat().st_size > before + 1400 * PAGE
        finally:
            checkpoints.close()
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000


def test_its_thread_checkpoints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    database = tmp_path / "store.sqlite"
    with Ledger(url) as ledger:
        checkpoints = Checkpointer(url, interval=0.05)
        checkpoints.start()
        try:
            before = database.stat().st_size
            _write(ledger.engine, 100)  # far below SQLite's own threshold
            deadline = time.monotonic() + 10
            while database.stat().st_size < before + 90 * PAGE:
                assert time.monotonic() < deadline, "nothing was checkpointed in 10 s"
                time.sleep(0.02)
        finally:
            checkpoints.close()


def test_other_databases_are_left_alone() -> None:
    checkpoints = Checkpointer("postgresql://nobody@127.0.0.1:1/none")
    checkpoints.start()  # connects to nothing, starts nothing
    checkpoints.close()
