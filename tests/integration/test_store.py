"""The store as a whole: one engine per URL, and migrations from the schema 0.1 created."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    make_url,
    select,
    text,
)
from typer.testing import CliRunner

from listonosz.cli import app
from listonosz.store import Ledger, StoreError, SuppressionList, delivery_key
from listonosz.store.engine import head
from listonosz.store.schema import metadata
from tests.conftest import CAMPAIGN as CAMPAIGN_FILE
from tests.conftest import PostgresServer

#: The installation secret these tests key suppression hashes with.
SECRET = b"test installation secret"

CAMPAIGN, KIND = "ekonomia-spoleczna-2016", "invitation"
FRESH = dt.timedelta(minutes=10)

# The tables exactly as Listonosz 0.1 defined them (listonosz/ledger.py and suppression.py at
# 25047b3), created with create_all as 0.1 did: no alembic_version, no pauses.
V0_1 = MetaData()
Table(
    "deliveries",
    V0_1,
    Column("key", String(64), primary_key=True),
    Column("campaign", String(80), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("email", String(320), nullable=False),
    Column("groups", String(400), nullable=False, default=""),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("takeovers", Integer, nullable=False, default=0),
    Column("claim_token", String(64), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True)),
    Index("ix_deliveries_campaign_kind_status", "campaign", "kind", "status"),
)
Table(
    "runs",
    V0_1,
    Column("run_id", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)
Table(
    "suppressions",
    V0_1,
    Column("key", String(64), primary_key=True),
    Column("email", String(320)),
    Column("reason", String(20), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("added_at", DateTime(timezone=True), nullable=False),
)
OLD_TABLES = ("deliveries", "runs", "suppressions")


def delivery(email: str, status: str, run: str, takeovers: int = 0) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    return {
        "key": delivery_key(CAMPAIGN, KIND, email),
        "campaign": CAMPAIGN,
        "kind": KIND,
        "email": email,
        "groups": "jst;ngo",
        "status": status,
        "attempts": 1 + takeovers,
        "takeovers": takeovers,
        "claim_token": run,
        "message_id": f"<{email.split('@')[0]}@rops-bialystok.example>",
        "detail": "451 try later" if status == "deferred" else "",
        "claimed_at": now - dt.timedelta(hours=1),
        "settled_at": None if status == "sending" else now,
    }


def write_0_1(url: str, tables: tuple[str, ...] = OLD_TABLES) -> dict[str, list[tuple]]:
    """A store as 0.1 left it, with rows in every status; what its tables hold."""
    now = dt.datetime.now(dt.UTC)
    rows: dict[str, list[dict[str, object]]] = {
        "deliveries": [
            delivery("wyslano@gmina.example.pl", "sent", "old-run"),
            delivery("odrzucono@gmina.example.pl", "failed", "old-run"),
            delivery("pozniej@gmina.example.pl", "deferred", "old-run"),
            delivery("porzucony@gmina.example.pl", "sending", "old-run", takeovers=1),
            delivery("w-locie@gmina.example.pl", "sending", "live-run"),
        ],
        "runs": [
            {"run_id": "old-run", "started_at": now, "heartbeat_at": now, "finished_at": now},
            {"run_id": "live-run", "started_at": now, "heartbeat_at": now, "finished_at": None},
        ],
        "suppressions": [
            {
                "key": "a" * 64,
                "email": "wypisany@gmina.example.pl",
                "reason": "unsubscribed",
                "detail": "link",
                "added_at": now,
            },
            {"key": "b" * 64, "email": None, "reason": "erased", "detail": "", "added_at": now},
        ],
    }
    engine = create_engine(url)
    try:
        V0_1.create_all(engine, tables=[V0_1.tables[name] for name in tables])
        with engine.begin() as conn:
            for name in tables:
                conn.execute(V0_1.tables[name].insert(), rows[name])
        return contents(engine, V0_1, tables)
    finally:
        engine.dispose()


def contents(engine: Engine, schema: MetaData, tables: tuple[str, ...]) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            name: sorted(tuple(row) for row in conn.execute(select(schema.tables[name])))
            for name in tables
        }


def assert_kept_and_working(url: str, before: dict[str, list[tuple]]) -> None:
    """Every 0.1 row is there, unchanged, and the ledger, suppressions and pauses work."""
    with closing(Ledger(url)) as ledger, closing(SuppressionList(url, SECRET)) as suppressions:
        assert contents(ledger.engine, V0_1, tuple(before)) == before
        with ledger.engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == head()
        assert set(inspect(ledger.engine).get_table_names()) >= set(metadata.tables)
        if "deliveries" in before:
            assert ledger.status_counts(CAMPAIGN, KIND) == Counter(
                sent=1, failed=1, deferred=1, sending=2
            )
            assert ledger.settled_emails(CAMPAIGN, KIND) == {
                "wyslano@gmina.example.pl",
                "odrzucono@gmina.example.pl",
            }
            assert ledger.possible_duplicates(CAMPAIGN, KIND) == 1
            emails = [row[3] for row in before["deliveries"]]
            claims = ledger.claim(CAMPAIGN, KIND, [(e, "", "<x>") for e in emails], "new", FRESH)
            # the deferred row, and the row the finished run left in flight (resent); not the
            # live run's row, nor the settled ones
            assert {(c.email, c.resent) for c in claims} == {
                ("pozniej@gmina.example.pl", False),
                ("porzucony@gmina.example.pl", True),
            }
        if "suppressions" in before:
            assert {(e.email, e.reason) for e in suppressions.entries()} == {
                ("wypisany@gmina.example.pl", "unsubscribed"),
                ("", "erased"),
            }
        assert ledger.pause(CAMPAIGN) is True
        assert ledger.paused(CAMPAIGN, KIND) is not None


@pytest.mark.parametrize(
    "tables",
    [OLD_TABLES, ("suppressions",)],
    ids=["after-sending", "suppressed-before-any-send"],
)
def test_a_0_1_sqlite_store_upgrades_itself_on_open_with_every_row(
    tmp_path: Path, tables: tuple[str, ...]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    before = write_0_1(url, tables)
    assert_kept_and_working(url, before)


def test_a_development_store_that_already_has_pauses_keeps_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    write_0_1(url)
    pauses = metadata.tables["pauses"]
    engine = create_engine(url)
    pauses.create(engine)  # with create_all, as builds between 0.1 and migrations did
    since = dt.datetime(2026, 11, 20, 9, 30)
    with engine.begin() as conn:
        conn.execute(pauses.insert(), [{"campaign": CAMPAIGN, "kind": "*", "paused_at": since}])
    engine.dispose()
    with closing(Ledger(url)) as ledger:
        assert ledger.paused(CAMPAIGN, KIND) == since
        assert ledger.status_counts(CAMPAIGN, KIND).total() == 5


def test_listonosz_db_upgrade_brings_a_0_1_postgresql_store_up_with_every_row(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.create_database()
    try:
        before = write_0_1(url)
        with pytest.raises(StoreError, match=r"Run `listonosz db upgrade`"):
            Ledger(url)  # PostgreSQL is never migrated behind the operator's back
        monkeypatch.setenv("LISTONOSZ_LEDGER_URL", url)
        monkeypatch.setenv("LISTONOSZ_CONFIG", str(tmp_path / "absent.toml"))
        refused = CliRunner().invoke(app, ["pause", str(CAMPAIGN_FILE)])
        assert refused.exit_code == 2 and "Run `listonosz db upgrade`" in refused.output
        assert "Traceback" not in refused.output
        upgraded = CliRunner().invoke(app, ["db", "upgrade"])
        assert upgraded.exit_code == 0, upgraded.output
        assert f"to {head()}" in upgraded.output and "from nothing" in upgraded.output
        again = CliRunner().invoke(app, ["db", "upgrade"])
        assert again.exit_code == 0 and f"already at revision {head()}" in again.output
        assert_kept_and_working(url, before)
    finally:
        postgres.drop_database(url)


def test_the_ledger_and_the_suppression_list_share_one_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger, suppressions = Ledger(url), SuppressionList(url, SECRET)
    assert ledger.engine is suppressions.engine
    ledger.close()
    ledger.close()  # twice is harmless: the other user keeps the engine
    suppressions.add("jan@gmina.example.pl", "unsubscribed")
    shared = suppressions.engine
    suppressions.close()  # the last user: the engine is disposed and forgotten
    with closing(Ledger(url)) as again:
        assert again.engine is not shared
        assert [e.email for e in SuppressionList(url, SECRET).entries()] == ["jan@gmina.example.pl"]


def test_a_store_upgraded_by_a_newer_release_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    Ledger(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision 9999, which is not one of"):
        Ledger(url)


def test_processes_opening_a_new_sqlite_store_at_once_all_get_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    code = (  # import, say so, and open the store when told: all at the same moment
        "import sys\n"
        "from listonosz.store import Ledger\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "Ledger(sys.argv[1]).close()\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, url],
            cwd=Path(__file__).parent.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout and process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin
        process.stdin.write("go\n")
        process.stdin.flush()
    errors = [p.communicate(timeout=60)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, "\n".join(errors)
    with closing(Ledger(url)) as ledger, ledger.engine.connect() as conn:
        assert conn.scalars(text("SELECT version_num FROM alembic_version")).all() == [head()]


def test_db_upgrade_of_an_unreachable_store_says_why_without_the_password(
    postgres: PostgresServer,
) -> None:
    url = postgres.create_database()
    postgres.drop_database(url)
    gone = make_url(url).set(password="tajne-haslo").render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["db", "upgrade", "--url", gone])
    assert result.exit_code == 2
    assert "cannot upgrade the store at postgresql+psycopg://postgres:***@" in result.output
    assert "does not exist" in result.output and "tajne-haslo" not in result.output
