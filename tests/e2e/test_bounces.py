"""Delivery tracking over SMTP end to end, with a real mail stack (tests/mailstack.py):
Listonosz sends through Postfix (the send-campaign flow), real DSNs come back to the signed
VERP addresses in Dovecot's mailbox, and the collect-bounces flow turns them into events and
suppressions. A second run changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import os
import smtplib
from contextlib import closing
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from flows.bounces import collect_bounces
from flows.campaign import send_campaign
from listonosz.config import Settings
from listonosz.store import EventLog, Ledger, SuppressionList, delivery_key
from listonosz.store.schema import events as events_table
from listonosz.tracking.verp import verp_address
from tests import bouncemail, mailstack
from tests.conftest import MailStack, deployed_worker, prefect_cli
from tests.factories import write_project

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

CAMPAIGN = "ekonomia-spoleczna-2016"
UNKNOWN = f"nikt@{mailstack.LOCAL_DOMAIN}"  # accepted, then bounced: 5.1.1
FULL = f"ewa.pelna@{mailstack.FULL_DOMAIN}"  # 450 4.2.2 until the queue lifetime ends
BLOCKED = f"ola@{mailstack.BLOCK_DOMAIN}"  # 550 5.7.1 from the "remote" server
REFUSED = f"jan@{mailstack.REJECT_DOMAIN}"  # 550 5.1.1 at RCPT: no DSN, a send-time bounce
AWAY = f"anna@{mailstack.ACCEPT_DOMAIN}"  # delivered; answers with an out-of-office reply
PEOPLE = [UNKNOWN, FULL, BLOCKED, REFUSED, AWAY]


def _project(root: Path) -> Path:
    """The seminar's campaign with a bounce address, for PEOPLE."""
    campaign = write_project(root, 0, when=dt.date.today() + dt.timedelta(days=30))
    with (root / "contacts" / "audience.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Imię", "Nazwisko", "E-mail", "Instytucja", "Stanowisko"])
        for n, address in enumerate(PEOPLE):
            writer.writerow(["Anna", f"Nowak{n}", address, "Urząd Gminy", "sekretarz"])
    text = campaign.read_text(encoding="utf-8")
    sender = '  email: "zaproszenia@rops-bialystok.example"\n'
    assert sender in text
    bounce = f'  bounce_address: "{mailstack.BOUNCE_ADDRESS}"\n'
    campaign.write_text(text.replace(sender, sender + bounce), encoding="utf-8")
    return campaign


@pytest.fixture
def environment(
    tmp_path: Path, mail_stack: MailStack, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """Settings as a worker has them: SMTP through Postfix, the bounce mailbox in Dovecot."""
    project = tmp_path / "project"
    campaign = _project(project)
    var = tmp_path / "var"
    for name, value in {
        "VAR_DIR": var,
        "CONFIG": tmp_path / "absent.toml",
        "PROJECT_DIR": project,
        "TRANSPORT": "postfix",
        "TRANSPORTS__POSTFIX__PORT": mail_stack.postfix.port,
        "TRANSPORTS__POSTFIX__RETRIES": 0,
        "CHECK_PUBLIC_URL": "false",
        "BOUNCES__HOST": "127.0.0.1",
        "BOUNCES__PORT": mail_stack.dovecot.port,
        "BOUNCES__SECURITY": "plain",
        "BOUNCES__USERNAME": mail_stack.dovecot.user,
        "BOUNCES__PASSWORD": mail_stack.dovecot.password,
    }.items():
        monkeypatch.setenv(f"LISTONOSZ_{name}", str(value))
    return var, campaign


def _reply_and_write(stack: MailStack, secret: bytes, message_id: str) -> None:
    """What people send to the bounce address: an out-of-office reply (to the return path of
    the message it answers, as RFC 3834 says) and a message that is no report at all."""
    away = verp_address(
        mailstack.BOUNCE_ADDRESS, delivery_key(CAMPAIGN, "invitation", AWAY), secret
    )
    ooo = bouncemail.autoreply(
        away,
        AWAY,
        "Automatyczna odpowiedź: Zaproszenie na seminarium",
        in_reply_to=message_id,
        headers={"Auto-Submitted": "auto-replied"},
    )
    with smtplib.SMTP("127.0.0.1", stack.postfix.port, timeout=30) as smtp:
        smtp.sendmail(AWAY, [away], ooo)
        smtp.sendmail(
            "jan.kowalski@gmina.example.pl",
            [mailstack.BOUNCE_ADDRESS],
            bouncemail.plain(mailstack.BOUNCE_ADDRESS),
        )


def _store_state(url: str, secret: bytes) -> tuple[int, dict[str, str]]:
    with closing(EventLog(url)) as log, log.engine.connect() as conn:
        count = len(conn.execute(events_table.select()).all())
    with closing(SuppressionList(url, secret)) as lists:
        return count, {entry.email: entry.reason for entry in lists.entries()}


def test_real_bounces_become_events_and_suppressions(
    environment: tuple[Path, Path], mail_stack: MailStack
) -> None:
    _var, campaign = environment
    settings = Settings()
    secret = settings.signing_secret()
    url = settings.resolved_ledger_url

    sent = send_campaign(str(campaign), "invitation", check_links=False)
    assert sent["sent"] == 4, sent["summary"]  # the REJECT_DOMAIN address was refused at RCPT
    with closing(Ledger(url)) as ledger:
        away = ledger.delivery(delivery_key(CAMPAIGN, "invitation", AWAY))
    assert away is not None and away.message_id
    _reply_and_write(mail_stack, secret, away.message_id)

    # Real DSNs: unknown user, policy block, delayed (at once), then expired (the queue
    # lifetime later); plus the reply and the stray message. Generous on a loaded machine.
    mailstack.wait_for(
        lambda: mail_stack.dovecot.count("INBOX") >= 6,
        mailstack.QUEUE_LIFETIME + 120,
        f"6 messages in the bounce mailbox; Postfix said:\n{mail_stack.postfix.log_text()[-4000:]}",
        every=1,
    )
    # Postfix removes a queue file just after the delivery it was for: nothing may be left.
    mailstack.wait_for(mail_stack.postfix.queue_is_empty, 30, "Postfix's queue to empty")

    first = collect_bounces()
    assert first["configured"] is True
    assert first["kinds"] == {
        "hard": 1,
        "block": 1,
        "delayed": 1,
        "expired": 1,
        "autoreply": 1,
        "unknown": 1,
    }
    assert (first["processed"], first["unrecognised"], first["recorded"]) == (5, 1, 5)
    assert first["suppressed"] == {"hard_bounce": 1}
    [alert] = first["alerts"]
    assert "5.7.1" in alert and "nobody was suppressed" in alert

    events_after, suppressed = _store_state(url, secret)
    assert suppressed == {UNKNOWN: "hard_bounce", REFUSED: "hard_bounce"}  # nobody else
    with closing(Ledger(url)) as ledger, closing(EventLog(url)) as log:
        key = {p: delivery_key(CAMPAIGN, "invitation", p) for p in PEOPLE}
        outcome = {p: ledger.delivery(key[p]).outcome for p in PEOPLE}  # type: ignore[union-attr]
        seen = {
            p: [(e.source, e.type, e.bounce_class) for e in log.for_deliveries([key[p]])]
            for p in PEOPLE
        }
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        soft_count = log.count_for_address(FULL, "bounced", ("soft", "expired"), since)
    assert seen[UNKNOWN] == [("mailbox", "bounced", "hard")]
    assert seen[REFUSED] == [("smtp", "bounced", "hard")]  # the 550 at send time
    assert seen[BLOCKED] == [("mailbox", "bounced", "block")]
    assert seen[FULL] == [("mailbox", "deferred", None), ("mailbox", "bounced", "expired")]
    assert soft_count == 1  # counted towards the soft-bounce limit, not suppressed
    assert seen[AWAY] == [("mailbox", "autoresponded", None)]
    assert outcome == {
        UNKNOWN: "bounced",
        FULL: "bounced",
        BLOCKED: "bounced",
        REFUSED: "bounced",
        AWAY: "autoresponded",
    }

    assert mail_stack.dovecot.count("INBOX") == 0
    assert mail_stack.dovecot.count("Processed") == 5
    assert mail_stack.dovecot.count("Unrecognised") == 1
    # The DSNs are Postfix's own, and ENVID came back in them.
    with mail_stack.dovecot.client() as imap:
        imap.select_folder("Processed", readonly=True)
        texts = [m[b"BODY[]"] for m in imap.fetch(imap.search("ALL"), ["BODY.PEEK[]"]).values()]
    assert any(f"Original-Envelope-Id: {key[UNKNOWN]}".encode() in t for t in texts)
    assert sum(b"X-Postfix-Queue-ID" in t for t in texts) == 4
    assert sum(b"Content-Type: text/rfc822-headers" in t for t in texts) == 4  # RET=HDRS

    again = collect_bounces()
    assert (again["processed"], again["unrecognised"], again["recorded"]) == (0, 0, 0)
    assert _store_state(url, secret) == (events_after, suppressed)
    assert mail_stack.dovecot.count("Processed") == 5
    assert mail_stack.dovecot.count("Unrecognised") == 1


def test_the_scheduled_deployment_collects_on_a_worker(
    prefect_server: str, tmp_path: Path, dovecot_server: mailstack.Dovecot
) -> None:
    """prefect.yaml's collect-bounces deployment: every 10 minutes, and run on a process
    worker whose environment holds the mailbox's settings, it empties the mailbox."""
    secret = "a token secret for the deployment test"
    key = "e5" * 20
    to = verp_address(mailstack.BOUNCE_ADDRESS, key, secret.encode())
    dovecot_server.append(bouncemail.dsn(to, "jan@gmina.example.pl"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTONOSZ_")}
    env.update(
        PREFECT_API_URL=prefect_server,
        LISTONOSZ_VAR_DIR=str(tmp_path / "var"),
        LISTONOSZ_CONFIG=str(tmp_path / "absent.toml"),
        LISTONOSZ_TOKEN_SECRET=secret,
        LISTONOSZ_BOUNCES__HOST="127.0.0.1",
        LISTONOSZ_BOUNCES__PORT=str(dovecot_server.port),
        LISTONOSZ_BOUNCES__SECURITY="plain",
        LISTONOSZ_BOUNCES__USERNAME=dovecot_server.user,
        LISTONOSZ_BOUNCES__PASSWORD=dovecot_server.password,
    )
    with deployed_worker(env, tmp_path / "worker.log"):
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name("collect-bounces/collect-bounces")
        [schedule] = deployment.schedules
        assert schedule.active and schedule.schedule.interval == dt.timedelta(minutes=10)
        output = prefect_cli(
            env,
            "deployment",
            "run",
            "collect-bounces/collect-bounces",
            "--watch",
            "--watch-timeout",
            "240",
            timeout=300,
        )
    assert "Completed" in output, (tmp_path / "worker.log").read_text()
    assert (dovecot_server.count("INBOX"), dovecot_server.count("Processed")) == (0, 1)


def test_without_a_bounce_mailbox_the_flow_says_so_and_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LISTONOSZ_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LISTONOSZ_CONFIG", str(tmp_path / "absent.toml"))
    for name in [n for n in os.environ if n.startswith("LISTONOSZ_BOUNCES__")]:
        monkeypatch.delenv(name)
    assert collect_bounces() == {"configured": False}
    assert "No bounce mailbox is configured" in caplog.text
    assert not (tmp_path / "var").exists()
