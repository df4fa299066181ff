"""The bounce mailbox over IMAP against a real Dovecot: each message recorded once and moved
to Processed or Unrecognised (never deleted, flags untouched), the store's events and
suppressions as the messages say, a rescan that counts nothing twice, clear errors."""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from pathlib import Path

import pytest
from imapclient.exceptions import IMAPClientError
from pydantic import SecretStr

from listonosz.config import BounceMailboxSettings
from listonosz.store import Ledger, SuppressionList
from listonosz.tracking import Tracker
from listonosz.tracking import mailbox as mailbox_module
from listonosz.tracking.mailbox import BounceMailbox, BounceMailboxError
from listonosz.tracking.verp import verp_address
from tests import bouncemail
from tests.mailstack import Dovecot

SECRET = b"test installation secret"
BOUNCES = "bounces@zwroty.rops.example.pl"
LEASE = dt.timedelta(seconds=60)
PEOPLE = {
    "hard": "jan@gmina.example.pl",
    "ooo": "ewa@ngo.example.pl",
    "complaint": "ola@wp.example.pl",
    "forged": "piotr@onet.example.pl",
    "delayed": "anna@interia.example.pl",
}


def _settings(server: Dovecot, **more: object) -> BounceMailboxSettings:
    fields: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "plain",
        "username": server.user,
        "password": SecretStr(server.password),
        "batch_size": 2,  # several FETCH batches even for a handful of messages
    }
    return BounceMailboxSettings.model_validate({**fields, **more})


def _deliveries(url: str) -> dict[str, str]:
    """One sent invitation to each of PEOPLE; delivery keys by role."""
    with closing(Ledger(url)) as ledger:
        rows = [(email, "ngo", f"<{role}@rops.example>") for role, email in PEOPLE.items()]
        claims = ledger.claim("c", "invitation", rows, "run", LEASE)
    by_email = {c.email: c.key for c in claims}
    return {role: by_email[email] for role, email in PEOPLE.items()}


def _fill(server: Dovecot, keys: dict[str, str]) -> None:
    verp = {role: verp_address(BOUNCES, key, SECRET) for role, key in keys.items()}
    server.append(bouncemail.dsn(verp["hard"], PEOPLE["hard"]))
    server.append(
        bouncemail.autoreply(verp["ooo"], PEOPLE["ooo"], "Automatyczna odpowiedź: Zaproszenie")
    )
    server.append(
        bouncemail.arf(BOUNCES, PEOPLE["complaint"], original_mail_from=verp["complaint"])
    )
    forged = verp["hard"].replace(keys["hard"], keys["forged"])
    server.append(bouncemail.dsn(forged, PEOPLE["forged"]))
    server.append(
        bouncemail.dsn(verp["delayed"], PEOPLE["delayed"], action="delayed", status="4.2.2")
    )
    server.append(bouncemail.plain(BOUNCES), flags=(b"\\Flagged",))


def _suppressed(url: str) -> dict[str, str]:
    with closing(SuppressionList(url, SECRET)) as lists:
        return {entry.email: entry.reason for entry in lists.entries()}


def test_collect_records_each_message_and_moves_it_away(
    dovecot_server: Dovecot, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    keys = _deliveries(url)
    _fill(dovecot_server, keys)
    box = BounceMailbox(_settings(dovecot_server), SECRET)
    with Tracker(url, SECRET) as tracker:
        first = box.collect(tracker)
        again = box.collect(tracker)
        events = {e.delivery_key: e for e in tracker.log.for_deliveries(keys.values())}
        unmatched = [e for e in tracker.log.of_type("bounced") if e.delivery_key is None]
        outcomes = {role: tracker.ledger.delivery(key).outcome for role, key in keys.items()}

    assert dict(first.kinds) == {
        "hard": 2,
        "autoreply": 1,
        "complaint": 1,
        "delayed": 1,
        "unknown": 1,
    }
    assert (first.processed, first.unrecognised, first.forged) == (5, 1, 1)
    assert (first.applied.recorded, first.applied.unmatched) == (5, 1)
    assert (again.processed, again.unrecognised, again.applied.recorded) == (0, 0, 0)

    assert _suppressed(url) == {PEOPLE["hard"]: "hard_bounce", PEOPLE["complaint"]: "complaint"}
    assert outcomes == {
        "hard": "bounced",
        "ooo": "autoresponded",
        "complaint": "complained",
        "forged": None,  # a forged bounce touches nobody
        "delayed": "deferred",
    }
    assert events[keys["hard"]].source == "mailbox"
    assert events[keys["hard"]].detail["status"] == "5.1.1"
    assert [e.detail["verp"] for e in unmatched] == ["forged"]
    assert not any("@" in str(e.detail) for e in [*events.values(), *unmatched])

    assert dovecot_server.count("INBOX") == 0
    assert dovecot_server.count("Processed") == 5
    assert dovecot_server.count("Unrecognised") == 1
    with dovecot_server.client() as imap:  # read with PEEK: nothing marked as seen
        imap.select_folder("Processed", readonly=True)
        assert imap.search(["SEEN"]) == []
        imap.select_folder("Unrecognised", readonly=True)
        [(_uid, flags)] = imap.get_flags(imap.search("ALL")).items()
        assert set(flags) - {b"\\Recent"} == {b"\\Flagged"}


def test_a_message_read_again_before_it_was_moved_counts_once(
    dovecot_server: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    keys = _deliveries(url)
    _fill(dovecot_server, keys)
    box = BounceMailbox(_settings(dovecot_server), SECRET)
    real_move = mailbox_module._move

    def broken_move(*_args: object) -> None:
        raise IMAPClientError("the connection dropped before MOVE")

    with Tracker(url, SECRET) as tracker:
        monkeypatch.setattr(mailbox_module, "_move", broken_move)
        with pytest.raises(BounceMailboxError, match="read again next time"):
            box.collect(tracker)
        assert dovecot_server.count("INBOX") == 6  # recorded (the first batch), not moved
        monkeypatch.setattr(mailbox_module, "_move", real_move)
        retry = box.collect(tracker)
        assert len(tracker.log.of_type("bounced")) == 2  # the hard bounce and the forged one
    assert retry.processed == 5 and retry.applied.duplicates == 2  # the first batch: two
    assert retry.applied.recorded == 3
    assert dovecot_server.count("INBOX") == 0


def test_a_wrong_password_or_server_is_a_clear_error(
    dovecot_server: Dovecot, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    wrong = _settings(dovecot_server, password=SecretStr("wrong"))
    with Tracker(url, SECRET) as tracker:
        with pytest.raises(
            BounceMailboxError, match=r"cannot log in .*LISTONOSZ_BOUNCES__PASSWORD"
        ):
            BounceMailbox(wrong, SECRET).collect(tracker)
        closed = _settings(dovecot_server, port=1, timeout=2)
        with pytest.raises(BounceMailboxError, match=r"cannot connect to .*127\.0\.0\.1:1"):
            BounceMailbox(closed, SECRET).collect(tracker)
