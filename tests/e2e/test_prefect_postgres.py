"""Prefect's own server on PostgreSQL, the ledger on PostgreSQL, a process worker: the set-up
the README gives for running at scale, end to end (issue 16, must show 3).

The campaign is deployed from prefect.yaml to the ``listonosz`` process work pool of a
``prefect server start`` whose database is a fresh PostgreSQL database, and run by a worker of
that pool. The run, its state history, its deployment and its work pool are then read with
SQL from that database, and the deliveries from the ledger's.
"""

from __future__ import annotations

import collections
import email
import email.policy
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from listonosz.contacts.model import Contact
from tests.conftest import (
    LISTONOSZ,
    Capture,
    PostgresServer,
    deployed_worker,
    run_send_campaign,
)
from tests.prefectserver import PrefectServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SEMINAR = "ekonomia-spoleczna-2016"


@pytest.fixture
def ledger_on_postgres(postgres: PostgresServer) -> Iterator[str]:
    """A fresh PostgreSQL database for the ledger, set up as the README says (``listonosz db
    upgrade``); its URL. Dropped after the test."""
    url = postgres.create_database()
    try:
        done = subprocess.run(
            [LISTONOSZ, "db", "upgrade"],
            env={**os.environ, "LISTONOSZ_LEDGER_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Upgraded the store" in done.stdout
        yield url
    finally:
        postgres.drop_database(url)


def rows(url: str, query: str, **params: object) -> list[tuple[object, ...]]:
    """The rows ``query`` selects in the database at ``url``."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query), params)]
    finally:
        engine.dispose()


def test_a_deployment_sends_a_campaign_with_prefect_and_the_ledger_on_postgres(
    prefect_on_postgres: PrefectServer,
    ledger_on_postgres: str,
    tmp_path: Path,
    listonosz_env: Path,
    capture: Capture,
    audience: list[Contact],
) -> None:
    server = prefect_on_postgres
    env = {
        **os.environ,
        "PREFECT_API_URL": server.api,
        "LISTONOSZ_LEDGER_URL": ledger_on_postgres,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    log = tmp_path / "worker.log"
    with deployed_worker(env, log):
        output = run_send_campaign(env, f"campaigns/{SEMINAR}.yaml", watch=300)
    found = re.search(r"UUID:\s*([0-9a-f-]{36})", output)
    assert found, output
    run_id = found.group(1)

    # the API says the run completed...
    answer = httpx.get(f"{server.api}/flow_runs/{run_id}", timeout=30)
    answer.raise_for_status()
    assert answer.json()["state_type"] == "COMPLETED", log.read_text()

    # ...and it says so from PostgreSQL: the run, its deployment and its pool are rows there,
    # with the whole life of the run, and the server made no SQLite database of its own
    prefect_db = server.database_for_tests
    (run,) = rows(
        prefect_db,
        "SELECT f.state_type, f.state_name, d.name, p.name, p.type, f.parameters->>'batch_size',"
        " f.infrastructure_pid IS NOT NULL"
        " FROM flow_run f JOIN deployment d ON d.id = f.deployment_id"
        " JOIN work_queue q ON q.id = f.work_queue_id JOIN work_pool p ON p.id = q.work_pool_id"
        " WHERE f.id = CAST(:run AS uuid)",
        run=run_id,
    )
    # the process worker started the run's process and recorded which one it was
    assert run == ("COMPLETED", "Completed", "send-campaign", "listonosz", "process", "40", True)
    (workers,) = rows(
        prefect_db,
        "SELECT count(*) FROM worker w JOIN work_pool p ON p.id = w.work_pool_id"
        " WHERE p.name = 'listonosz'",
    )
    assert workers == (1,)
    history = [
        state
        for (state,) in rows(
            prefect_db,
            "SELECT type FROM flow_run_state WHERE flow_run_id = CAST(:run AS uuid)"
            " ORDER BY timestamp",
            run=run_id,
        )
    ]
    assert history[0] == "SCHEDULED"
    assert history[-1] == "COMPLETED"
    assert {"PENDING", "RUNNING"} <= set(history)
    assert not list(server.home.glob("*.db")), sorted(server.home.iterdir())

    # everyone in the audience received exactly one message
    audience_emails = {person.email for person in audience}
    received: collections.Counter[str] = collections.Counter()
    message_ids: dict[str, str] = {}
    for path in capture.messages():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        (to,) = message["To"].addresses
        received[to.addr_spec] += 1
        message_ids[to.addr_spec] = str(message["Message-ID"])
    assert len(audience_emails) == 86
    assert received == collections.Counter(audience_emails), log.read_text()

    # the ledger on PostgreSQL says sent for each of them, under the Message-ID they got
    deliveries = rows(
        ledger_on_postgres,
        "SELECT email, status, message_id FROM deliveries WHERE campaign = :campaign"
        " AND kind = 'invitation'",
        campaign=SEMINAR,
    )
    assert sorted(deliveries) == sorted((who, "sent", message_ids[who]) for who in audience_emails)
