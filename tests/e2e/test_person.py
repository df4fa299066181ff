"""A person's GDPR requests end to end: export everything held about them, then erase it so
no table and no byte of the store's files holds their address, and no message reaches them."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest
from sqlalchemy import create_engine, inspect, select

from flows.campaign import send_campaign
from listonosz.config import Settings
from listonosz.store import PERSONAL_TABLES
from listonosz.store.schema import metadata
from tests.conftest import LISTONOSZ, Capture, Website
from tests.e2e.test_web import _messages, _one_click_url, _rsvp_urls

pytestmark = pytest.mark.usefixtures("prefect_server")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISTONOSZ, *args], env=os.environ.copy(), capture_output=True, text=True, timeout=120
    )


def test_export_then_erase_leaves_no_trace(website: Website, capture: Capture) -> None:
    assert send_campaign(str(website.campaign), "invitation")["sent"] == 5
    person, message = sorted(_messages(capture).items())[0]
    yes_url = _rsvp_urls(message)[0]
    assert httpx.post(yes_url, data={"answer": "yes"}).status_code == 303
    newsletters = httpx.post(_one_click_url(message), data={"scope": "newsletter"})
    assert newsletters.status_code == 200

    exported = _cli("person", "export", person.upper())  # any case: the same person
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["email"] == person
    [lists] = data["contact_lists"]
    assert lists["campaign"] == "ekonomia-spoleczna-2016"
    assert lists["rows"] == ["contacts/audience.csv:2"]
    assert lists["fields"]["first_name"] and lists["groups"] == ["jst"]
    assert [(d["kind"], d["status"]) for d in data["deliveries"]] == [("invitation", "sent")]
    assert sorted(e["type"] for e in data["events"]) == ["answered", "unsubscribed"]
    assert [(a["answer"], a["answer_source"]) for a in data["answers"]] == [("yes", "web")]
    assert data["suppression"]["scope"] == "newsletter"

    erased = _cli("person", "erase", person, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "Erased: 1 deliveries, 2 events, 1 answers" in erased.stdout
    assert "contacts/audience.csv:2" in erased.stdout  # staff must edit their list
    assert person not in erased.stdout

    settings = Settings()
    url = settings.resolved_ledger_url
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(PERSONAL_TABLES) <= tables
        with engine.connect() as conn:
            for name in tables - {"alembic_version"}:
                table = metadata.tables[name]
                for row in conn.execute(select(table)):
                    assert person not in repr(tuple(row)), name
    finally:
        engine.dispose()
    ledger = settings.var_dir / "ledger.sqlite"
    for path in ledger.parent.glob("ledger.sqlite*"):
        assert person.encode() not in path.read_bytes(), path

    # the person's links now lead to a polite page, not an error
    gone = httpx.get(yes_url)
    assert gone.status_code == 410 and "nieaktywny" in gone.text

    # the exports and the erasure are events, without the address
    again = json.loads(_cli("person", "export", person).stdout)
    assert again["deliveries"] == again["events"] == again["answers"] == []
    assert again["suppression"]["reason"] == "erased" and again["suppression"]["email"] == ""

    # the hashed entry stops the next send, though the contact list still has the person
    for path in capture.messages():
        path.unlink()
    assert send_campaign(str(website.campaign), "reminder")["sent"] == 4
    assert person not in _messages(capture)


def test_every_table_is_either_personal_or_holds_nobody() -> None:
    """A new table must be cleared by erasure, or be known to hold no personal data."""
    holds_nobody = {"runs", "pauses", "nonces", "attendance_closures", "holds"}
    assert set(metadata.tables) == set(PERSONAL_TABLES) | holds_nobody


def test_export_refuses_what_is_not_an_address(listonosz_env: object) -> None:
    done = _cli("person", "export", "not-an-address")
    assert done.returncode == 2
    assert "not a usable e-mail address" in done.stderr
