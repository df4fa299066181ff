"""The event's lifecycle on an injected clock (no sleeping): the invitation, answers, the
reminder at T−2 days 09:00, attendance, thank-you and we-missed-you at T+1 day 10:00 to exactly
the right people, once; a run three days late sends nothing and reports what it missed."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from flows.campaign import send_campaign
from flows.followups import run_follow_ups
from listonosz.campaign import load_campaign
from listonosz.config import Settings
from listonosz.sending import merge_audience
from listonosz.store import Participants
from tests.conftest import LISTONOSZ, Capture
from tests.factories import write_project

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]

WARSAW = ZoneInfo("Europe/Warsaw")
CAMPAIGN = "ekonomia-spoleczna-2016"


#: The message kind by the first word of its subject in the seminar's campaign file.
KINDS = {
    "Zaproszenie": "invitation",
    "Przypomnienie:": "reminder",
    "Dziękujemy": "thank_you",
    "Brakowało": "we_missed_you",
}


def _received(capture: Capture) -> dict[str, set[str]]:
    """Captured messages (then removed): the recipients of each message kind."""
    found: dict[str, set[str]] = {}
    for path in capture.messages():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        kind = KINDS[str(message["Subject"]).split()[0]]
        found.setdefault(kind, set()).add(message["To"].addresses[0].addr_spec)
        path.unlink()
    return found


def test_follow_ups_reach_exactly_the_right_people_once(
    tmp_path: Path,
    listonosz_env: Path,
    capture: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    day = dt.date.today() + dt.timedelta(days=30)
    project = tmp_path / "project"
    path = write_project(project, 6, when=day)
    late = project / "campaigns" / "late.yaml"  # the same event, whose follow-ups run late
    late.write_text(path.read_text().replace(f"id: {CAMPAIGN}", "id: spozniona"))
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(project))
    start = dt.datetime.combine(day, dt.time(10, 0), tzinfo=WARSAW)

    for campaign in (path, late):
        assert send_campaign(str(campaign), "invitation")["sent"] == 6
    invited = sorted(_received(capture)["invitation"])
    yes_came, yes_absent, no, changed, silent_came, fresh_yes = invited
    reminder_due = dt.datetime.combine(day - dt.timedelta(days=2), dt.time(9), tzinfo=WARSAW)

    settings = Settings()
    with Participants(settings.resolved_ledger_url) as people:
        answers = [
            (yes_came, "yes", start - dt.timedelta(days=10)),
            (yes_absent, "yes", start - dt.timedelta(days=9)),
            (no, "no", start - dt.timedelta(days=8)),
            (changed, "yes", start - dt.timedelta(days=7)),
            (changed, "no", reminder_due - dt.timedelta(hours=2)),  # yes, then no
            (fresh_yes, "yes", reminder_due - dt.timedelta(hours=3)),  # registered just now
        ]
        for campaign_id in (CAMPAIGN, "spozniona"):
            for who, what, when in answers:
                people.answer(campaign_id, who, what, "web", when)

    # T−2 days 09:05: the reminder, to yes and no-answer, not to the no, not to fresh answers
    assert run_follow_ups(CAMPAIGN, reminder_due + dt.timedelta(minutes=5))["sent"] == {
        f"{CAMPAIGN}/reminder": 3
    }
    assert _received(capture) == {"reminder": {yes_came, yes_absent, silent_came}}
    again = run_follow_ups(CAMPAIGN, reminder_due + dt.timedelta(minutes=20))
    assert again["sent"] == {} and _received(capture) == {}
    # a day on, the one who had just registered is no longer fresh: their reminder goes
    next_day = run_follow_ups(CAMPAIGN, reminder_due + dt.timedelta(hours=25))
    assert next_day["sent"] == {f"{CAMPAIGN}/reminder": 1}
    assert _received(capture) == {"reminder": {fresh_yes}}

    # the seminar; attendance recorded and closed after it
    end = start + dt.timedelta(hours=4)
    # the signed list staff typed in: one by address, one by name and institution only, one
    # stranger, one who is listed but did not sign
    audience = {c.email: c for c in merge_audience(load_campaign(path)).contacts}
    came = audience[silent_came]
    signed = tmp_path / "lista-obecnosci.csv"
    signed.write_text(
        "Lista obecności – seminarium\n"
        "Lp.;Imię i nazwisko;Instytucja;E-mail;Podpis\n"
        f"1;;;{yes_came.upper()};podpisano\n"
        f"2;{came.last_name} {came.first_name};{came.organisation};;podpisano\n"
        "3;Zenon Nieznany;Urząd Gminy Nigdzie;;podpisano\n"
        f"4;;;{yes_absent};\n",
        encoding="cp1250",
    )
    for campaign in (path, late):
        imported = subprocess.run(
            [LISTONOSZ, "attendance", "import", str(campaign), str(signed)],
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert imported.returncode == 0, imported.stderr
        assert "2 marked present from 4 rows (1 listed but not signed)" in imported.stdout
        assert "lista-obecnosci.csv:5: Zenon Nieznany: nobody on the lists" in imported.stderr
    with Participants(settings.resolved_ledger_url) as people:
        present = {p.email for p in people.of_campaign(CAMPAIGN) if p.attended == "attended"}
        assert present == {yes_came, silent_came}
        before_closing = run_follow_ups(CAMPAIGN, end + dt.timedelta(minutes=30))
        assert before_closing["sent"] == {}
        for campaign_id in (CAMPAIGN, "spozniona"):
            people.close_attendance(campaign_id, "staff", end + dt.timedelta(hours=1))

    # T+1 day 10:05: thanks to those who came, we-missed-you to the yes who did not
    thanks_due = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(10), tzinfo=WARSAW)
    result = run_follow_ups(CAMPAIGN, thanks_due + dt.timedelta(minutes=5))
    assert result["sent"] == {f"{CAMPAIGN}/thank_you": 2, f"{CAMPAIGN}/we_missed_you": 2}
    assert _received(capture) == {
        "thank_you": {yes_came, silent_came},
        "we_missed_you": {yes_absent, fresh_yes},
    }
    for hours in (1, 30, 80):  # every run after that sends nothing
        later = run_follow_ups(CAMPAIGN, thanks_due + dt.timedelta(hours=hours))
        assert later["sent"] == {} and later["missed"] == []
    assert _received(capture) == {}

    # the other campaign's follow-ups, run for the first time three days late: nothing sent
    late_run = run_follow_ups("spozniona", thanks_due + dt.timedelta(days=3, minutes=5))
    assert late_run["sent"] == {}
    assert _received(capture) == {}
    assert sorted(line.split(":")[0] for line in late_run["missed"]) == [
        "spozniona/reminder",
        "spozniona/thank_you",
        "spozniona/we_missed_you",
    ]
