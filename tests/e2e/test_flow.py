"""The send-campaign flow end to end: real Prefect server, real SMTP, real ledger."""

from __future__ import annotations

import email
import email.policy
import json
import math
import re
import shutil
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

import pytest
import yaml

from flows.campaign import send_campaign
from listonosz.store import Ledger, delivery_key
from tests.conftest import CAMPAIGN, REPO, Capture

EXPECTED = json.loads((REPO / "tests" / "data" / "contacts_expected.json").read_text())
SENDER_DOMAIN = "rops-bialystok.example"

pytestmark = pytest.mark.usefixtures("prefect_server")


def _parse(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def _task_run_count(flow_run_id: UUID, expected: int) -> int:
    """Task runs the server recorded for a flow run (recorded asynchronously, so wait a little)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    deadline = time.monotonic() + 20
    with get_client(sync_client=True) as client:
        while True:
            count = len(client.read_task_runs(flow_run_filter=flow_filter))
            if count >= expected or time.monotonic() > deadline:
                return count
            time.sleep(0.2)


def test_campaign_sends_once_per_person_and_never_twice(
    listonosz_env: Path, capture: Capture
) -> None:
    everyone = EXPECTED["unique_valid"]
    result = send_campaign(str(CAMPAIGN), "invitation", batch_size=20)
    assert result["sent"] == everyone
    assert _summary_line(result, "Sent now") == (
        f"Sent now: {everyone}; failed: 0; deferred (retried next run): 0; "
        "already settled before this run: 0."
    )
    assert "Left alone" not in result["summary"]

    files = capture.messages()
    assert len(files) == EXPECTED["unique_valid"]
    messages = [_parse(path) for path in files]
    recipients = sorted(msg["To"].addresses[0].addr_spec for msg in messages)
    assert recipients == EXPECTED["emails"]

    ledger = Ledger(f"sqlite:///{listonosz_env / 'ledger.sqlite'}")
    try:
        assert ledger.status_counts("ekonomia-spoleczna-2016", "invitation") == {
            "sent": EXPECTED["unique_valid"]
        }
        assert ledger.settled_emails("ekonomia-spoleczna-2016", "invitation") == set(recipients)
        groups = ledger.group_counts("ekonomia-spoleczna-2016", "invitation")
        assert {code: c["sent"] for code, c in groups.items()} == EXPECTED["per_group"]
    finally:
        ledger.close()

    again = send_campaign(str(CAMPAIGN), "invitation", batch_size=20)
    assert again["sent"] == 0 and again["nothing_to_send"]
    assert _summary_line(again, "Nothing new") == (
        f"Nothing new to send: all {everyone} recipients are already settled in the ledger."
    )
    assert "Left alone" not in again["summary"]  # settled rows are planned out, not refused
    assert (
        _summary_line(again, "Ledger")
        == f"Ledger: sent {everyone}, failed 0, deferred 0, sending 0"
    )
    assert len(capture.messages()) == everyone


def _summary_line(result: dict[str, object], start: str) -> str:
    """The one line of a run's summary that starts with ``start``."""
    (line,) = [line for line in str(result["summary"]).splitlines() if line.startswith(start)]
    return line


def test_a_grown_audience_gets_only_the_newcomers(
    tmp_path: Path, listonosz_env: Path, capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Journalists first, then everyone: the second run writes to the others only, reports the
    journalists as settled before it, and nobody gets two messages."""
    everyone, media = EXPECTED["unique_valid"], EXPECTED["per_group"]["media"]
    narrow, wide = (
        _campaign_copy(tmp_path / "media", ["media"]),
        _campaign_copy(tmp_path / "all", None),
    )
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(narrow.parents[1]))
    first = send_campaign(str(narrow), "invitation")
    assert first["sent"] == media
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(wide.parents[1]))
    second = send_campaign(str(wide), "invitation")
    assert second["sent"] == everyone - media
    assert _summary_line(second, "Sent now") == (
        f"Sent now: {everyone - media}; failed: 0; deferred (retried next run): 0; "
        f"already settled before this run: {media}."
    )
    assert "Left alone" not in second["summary"]
    assert "Possible duplicates" not in second["summary"]

    received = Counter(_parse(path)["To"].addresses[0].addr_spec for path in capture.messages())
    assert sorted(received) == EXPECTED["emails"]
    assert set(received.values()) == {1}


def test_every_message_is_well_formed(listonosz_env: Path, capture: Capture) -> None:
    send_campaign(str(CAMPAIGN), "invitation")
    by_recipient = {}
    for path in capture.messages():
        raw = path.read_bytes()
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert head.isascii(), "headers must be 7-bit, non-ASCII only in RFC 2047 words"
        assert b"=?utf-8?" in head  # Polish letters in the subject and the sender's name
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
        msg = _parse(path)
        address = msg["To"].addresses[0].addr_spec
        by_recipient[address] = msg

        assert msg.get_content_type() == "multipart/mixed"
        alternative, calendar = msg.iter_parts()
        assert [p.get_content_type() for p in alternative.iter_parts()] == [
            "text/plain",
            "text/html",
        ]
        assert calendar.get_content_type() == "text/calendar"
        assert calendar.get_filename() == "wydarzenie.ics"
        ics = calendar.get_content()
        ics = ics.decode() if isinstance(ics, bytes) else ics
        assert "METHOD:PUBLISH" in ics and "DTSTART;TZID=Europe/Warsaw:20160907T100000" in ics
        assert msg["Subject"].startswith("Zaproszenie na seminarium „Ekonomia Społeczna")
        assert "7 września 2016 r." in msg["Subject"]
        assert msg["From"].addresses[0].display_name == "ROPS w Białymstoku"
        key = delivery_key("ekonomia-spoleczna-2016", "invitation", address)
        assert msg["Message-ID"] == f"<{key}@{SENDER_DOMAIN}>"
        assert msg["Date"].datetime is not None
        unsubscribe = str(msg["List-Unsubscribe"])
        assert re.fullmatch(r"<https://\S+/u/\S+>, <mailto:\S+>", unsubscribe), unsubscribe
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert address not in unsubscribe

        html = msg.get_body(("html",)).get_content()
        styles = re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.S)
        leftover = [
            re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", s).strip() for s in styles
        ]
        assert not any(leftover), f"rules only in <style>: {leftover}"
        assert re.search(r'<p style="[^"]*font-size', html)  # element styles inlined
        assert "Europejskiego Funduszu Społecznego" in html
        assert "Cezary Miżejewski" in html

    # The salutation fits the person: from the gender column, the first name, or nobody named.
    expected_salutations = {
        "Szanowna Pani,": ["Ewa Sokołowska", "Bożena Sądowska"],  # a deputy: the plain form
        "Szanowny Panie,": ["Kuba Sawicki", "Barnaba Trochimczuk", "Jarema Borkowski"],
        "Szanowna Pani Prezes,": ["Halina Wróblewska"],
        "Szanowny Panie Wójcie,": ["Kosma Wasilewski"],
        "Szanowny Księże Proboszczu,": ["Jerzy Sacharczuk"],
    }
    names = {str(m["To"].addresses[0].display_name): m for m in by_recipient.values()}
    for greeting, people in expected_salutations.items():
        for person in people:
            text = names[person].get_body(("plain",)).get_content()
            assert text.lstrip().startswith(greeting), (person, text[:40])
    organisations = [
        m
        for m in by_recipient.values()
        if m["To"].addresses[0].addr_spec.startswith(("biuro@", "kontakt@"))
    ]
    assert organisations
    for msg in organisations:
        assert msg.get_body(("plain",)).get_content().lstrip().startswith("Szanowni Państwo,")


def _campaign_copy(tmp_path: Path, groups: list[str] | None) -> Path:
    """The seminar campaign, optionally narrowed to some groups, in a tree of its own."""
    root = tmp_path / "project"
    (root / "campaigns").mkdir(parents=True)
    for folder in ("contacts", "templates"):
        shutil.copytree(REPO / folder, root / folder)
    data = yaml.safe_load(CAMPAIGN.read_text(encoding="utf-8"))
    data["audience"]["groups"] = groups
    path = root / "campaigns" / "narrow.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.slow
def test_task_runs_follow_batches_not_recipients(
    tmp_path: Path, listonosz_env: Path, capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """merge + plan + one task per batch + report, whatever the number of recipients."""
    everyone = EXPECTED["unique_valid"]
    media = EXPECTED["per_group"]["media"]
    cases = [  # (groups, batch size, recipients)
        (["media"], 500, media),
        (None, 500, everyone),
        (None, 10, everyone),
        (None, 43, everyone),
    ]
    for number, (groups, batch_size, recipients) in enumerate(cases):
        monkeypatch.setenv("LISTONOSZ_VAR_DIR", str(tmp_path / f"var{number}"))
        path = _campaign_copy(tmp_path / f"case{number}", groups)
        monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(path.parents[1]))
        state = send_campaign(str(path), "invitation", batch_size, return_state=True)
        assert state.is_completed()
        assert state.result()["sent"] == recipients
        batches = math.ceil(recipients / batch_size)
        expected = 3 + batches
        assert _task_run_count(state.state_details.flow_run_id, expected) == expected


def test_dry_run_writes_eml_files_and_leaves_the_real_ledger_alone(
    listonosz_env: Path, capture: Capture
) -> None:
    result = send_campaign(str(CAMPAIGN), "invitation", transport="outbox")
    dry_run = listonosz_env / "dry-run"
    assert result["sent"] == EXPECTED["unique_valid"]
    assert len(list(dry_run.glob("*.eml"))) == EXPECTED["unique_valid"]
    assert capture.messages() == []  # nothing went to the SMTP server
    real = Ledger(f"sqlite:///{listonosz_env / 'ledger.sqlite'}")
    try:
        assert real.status_counts("ekonomia-spoleczna-2016", "invitation") == {}
    finally:
        real.close()
    # the real send afterwards still reaches everyone
    assert send_campaign(str(CAMPAIGN), "invitation")["sent"] == EXPECTED["unique_valid"]


def test_the_suppression_list_wins_over_every_contact_list(
    listonosz_env: Path, capture: Capture
) -> None:
    from listonosz.config import Settings
    from listonosz.store import SuppressionList

    gone = EXPECTED["emails"][:3]
    settings = Settings()
    suppression = SuppressionList(settings.resolved_ledger_url, settings.signing_secret())
    try:
        suppression.add(gone[0], "unsubscribed")
        suppression.add(gone[1], "hard_bounce")
        suppression.add(gone[2], "erased")
    finally:
        suppression.close()
    result = send_campaign(str(CAMPAIGN), "invitation")
    assert result["sent"] == EXPECTED["unique_valid"] - 3
    received = {_parse(p)["To"].addresses[0].addr_spec for p in capture.messages()}
    assert received == set(EXPECTED["emails"]) - set(gone)
    assert "Not sent to 3 on the suppression list." in result["summary"]
    report = listonosz_env / "reports" / "ekonomia-spoleczna-2016-contacts.csv"
    assert report.read_text(encoding="utf-8").count("suppressed") >= 3


def test_a_template_error_stops_the_send_before_anything_leaves(
    tmp_path: Path, listonosz_env: Path, capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from listonosz.render.preflight import PreflightError

    path = _campaign_copy(tmp_path, None)
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(path.parents[1]))
    template = path.parents[1] / "templates" / "invitation.html.j2"
    lines = template.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if "{{ salutation }}" in line) + 1
    lines.insert(
        number - 1, "{% if contact is in_group('media') %}{{ contact.nickname }}{% endif %}\n"
    )
    template.write_text("".join(lines), encoding="utf-8")

    with pytest.raises(PreflightError) as error:
        send_campaign(str(path), "invitation")
    message = str(error.value)
    assert f"invitation.html.j2:{number}" in message and "nickname" in message
    media = EXPECTED["per_group"]["media"]
    assert f"for {media} of" in message  # every journalist listed, nobody else
    assert capture.messages() == []
    _assert_nothing_claimed(listonosz_env)


@pytest.mark.parametrize(
    ("subject", "problem"),
    [
        (
            "{{ cycler.__init__.__globals__.os.popen('touch RAN').read() }}",
            "access to attribute '__init__' of 'Cycler' is not allowed in templates",
        ),
        (
            "{{ cycler.__init__.__globals__.os.environ.LISTONOSZ_TRANSPORTS__X__PASSWORD }}",
            "access to attribute '__init__' of 'Cycler' is not allowed in templates",
        ),
        (
            "{% for i in range(10**9) %}{{ i }}{% endfor %}",
            "range() of 1,000,000,000 numbers is over the limit of 10,000",
        ),
    ],
)
def test_a_hostile_subject_is_refused_before_anything_is_claimed(
    tmp_path: Path,
    listonosz_env: Path,
    capture: Capture,
    monkeypatch: pytest.MonkeyPatch,
    subject: str,
    problem: str,
) -> None:
    """Whoever edits a campaign gets a clear error, never the worker's shell or secrets."""
    from listonosz.render.preflight import PreflightError

    secret = "fake-smtp-password-0b7d42"
    monkeypatch.setenv("LISTONOSZ_TRANSPORTS__X__PASSWORD", secret)
    monkeypatch.chdir(tmp_path)  # where `touch RAN` would leave its file
    path = _campaign_copy(tmp_path, ["media"])
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(path.parents[1]))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["messages"]["invitation"]["subject"] = subject
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    started = time.monotonic()
    with pytest.raises(PreflightError) as error:
        send_campaign(str(path), "invitation")
    assert time.monotonic() - started < 60
    message = str(error.value)
    assert f"subject:1: refused by the template sandbox: {problem}" in message
    assert "nothing is sent" in message and secret not in message
    assert not (tmp_path / "RAN").exists()
    assert capture.messages() == []
    _assert_nothing_claimed(listonosz_env)


def _assert_nothing_claimed(var: Path) -> None:
    ledger = Ledger(f"sqlite:///{var / 'ledger.sqlite'}")
    try:
        assert ledger.status_counts("ekonomia-spoleczna-2016", "invitation") == {}
    finally:
        ledger.close()


def test_progress_is_shown_while_sending_and_ends_at_everyone(
    listonosz_env: Path, capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's bar and the Prefect UI's progress artifact are fed from the ledger as the
    run goes; both end at everyone the run set out to send to."""
    from prefect.artifacts import Artifact

    from flows import progress

    seen: list[tuple[int, int]] = []
    monkeypatch.setattr(progress, "listeners", [lambda done, total: seen.append((done, total))])
    result = send_campaign(str(CAMPAIGN), "invitation", batch_size=10)
    everyone = EXPECTED["unique_valid"]
    assert result["sent"] == everyone
    assert seen and seen[-1] == (everyone, everyone)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    artifact = Artifact.get("ekonomia-spoleczna-2016-invitation-progress")
    assert artifact is not None and float(str(artifact.data)) == 100.0
    assert f"{everyone:,} of {everyone:,} settled" in str(artifact.description)
