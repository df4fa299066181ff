"""prefect.yaml on a full Prefect server (its scheduler, automations and UI running, as
``prefect server start`` runs them) with a process worker, as the README sets them up:

- the ``follow-ups`` schedule fires (made every minute for the test) and each due message goes
  once, however often it fires;
- closing attendance runs the follow-ups at once through the deployment's trigger, with no
  schedule active;
- ``send-campaign``'s run form offers the project's campaigns and message kinds as drop-downs,
  and staff start a dry run from it in the Prefect UI (Debian's Chromium under Playwright).

The tests' usual Prefect server (``prefect_server``) is a temporary one, which runs neither
the scheduler nor the UI.
"""

from __future__ import annotations

import collections
import datetime as dt
import email
import email.policy
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from listonosz.campaign import load_campaign
from listonosz.config import Settings
from listonosz.store import Participants
from tests.conftest import (
    LISTONOSZ,
    Capture,
    deployed_worker,
    unavailable,
)
from tests.factories import write_project
from tests.prefectserver import start_prefect_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

WARSAW = ZoneInfo("Europe/Warsaw")
#: The id of the campaign write_project writes (the seminar's).
SEMINAR = "ekonomia-spoleczna-2016"


@pytest.fixture(scope="module")
def full_prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``prefect server start`` on a free loopback port with its own SQLite database; its API
    URL. The UI is at the same address without ``/api``."""
    home = tmp_path_factory.mktemp("prefect-home")
    # the scheduler looks for schedules to fill every 10 s instead of every minute
    with start_prefect_server(home, PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="10") as server:
        yield server.api


class Api:
    """The few Prefect REST calls the tests make."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)

    def deployment(self, name: str) -> dict[str, Any]:
        answer = self.client.get(f"/deployments/name/{name}/{name}")
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def set_schedule(self, name: str, **changes: Any) -> dict[str, Any]:
        """Change the deployment's one schedule (``schedule=…``, ``active=…``); the deployment."""
        deployment = self.deployment(name)
        (schedule,) = deployment["schedules"]
        path = f"/deployments/{deployment['id']}/schedules/{schedule['id']}"
        self.client.patch(path, json=changes).raise_for_status()
        return self.deployment(name)

    def runs(self, deployment_id: str, since: dt.datetime) -> list[dict[str, Any]]:
        """The deployment's flow runs created since ``since``, oldest first."""
        body = {
            "flow_runs": {"deployment_id": {"any_": [deployment_id]}},
            "sort": "EXPECTED_START_TIME_ASC",
        }
        answer = self.client.post("/flow_runs/filter", json=body)
        answer.raise_for_status()
        return [
            run
            for run in answer.json()
            if dt.datetime.fromisoformat(run["created"].replace("Z", "+00:00")) >= since
        ]


def wait_for(what: str, check: Callable[[], bool], seconds: float, log: Path) -> None:
    """Poll ``check`` every second until it holds; fail after ``seconds`` with the worker log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise AssertionError(f"no {what} within {seconds:.0f} s; worker log:\n{log.read_text()}")


def worker_env(api: str, project: Path) -> dict[str, str]:
    """The environment of ``prefect deploy`` and the worker: this server, this project, the
    settings listonosz_env put in os.environ, a worker that asks for work every second."""
    return {
        **os.environ,
        "PREFECT_API_URL": api,
        "LISTONOSZ_PROJECT_DIR": str(project),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


def received(capture: Capture) -> collections.Counter[tuple[str, str, str]]:
    """Every captured message as (campaign id, first word of the subject, recipient)."""
    found: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for path in capture.messages():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        campaign = str(message["List-Id"]).rpartition("<")[2].split(".")[0]  # <id.domain>
        word = str(message["Subject"]).split()[0]
        found[(campaign, word, message["To"].addresses[0].addr_spec)] += 1
    return found


def test_the_follow_ups_schedule_fires_and_each_due_reminder_goes_once(
    full_prefect: str,
    tmp_path: Path,
    listonosz_env: Path,
    capture: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two campaigns whose reminders are due; the schedule fires twice; each person who
    should get a reminder gets exactly one, the one who said no gets none."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.campaign import send_campaign

    tomorrow = dt.datetime.now(WARSAW).date() + dt.timedelta(days=1)
    project = tmp_path / "project"
    first = write_project(project, 4, when=tomorrow)  # the reminder was due yesterday 09:00
    second = project / "campaigns" / "drugi.yaml"
    second.write_text(first.read_text().replace(f"id: {SEMINAR}", "id: drugi"))
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(project))
    with temporary_settings(updates={PREFECT_API_URL: full_prefect}):
        for path in (first, second):
            assert send_campaign(str(path), "invitation")["sent"] == 4
    invited = sorted({who for _, _, who in received(capture)})
    for path in capture.messages():
        path.unlink()
    said_no = invited[0]
    with Participants(Settings().resolved_ledger_url) as people:
        people.answer(SEMINAR, said_no, "no", "web", dt.datetime.now(dt.UTC) - dt.timedelta(days=3))

    api = Api(full_prefect)
    log = tmp_path / "worker.log"
    started = dt.datetime.now(dt.UTC)
    with deployed_worker(worker_env(full_prefect, project), log):
        deployment = api.deployment("follow-ups")
        (schedule,) = deployment["schedules"]
        assert schedule["active"]
        assert schedule["schedule"]["cron"] == "*/15 * * * *"
        assert schedule["schedule"]["timezone"] == "Europe/Warsaw"
        # the test's shorter schedule: the same cron schedule, every minute
        api.set_schedule("follow-ups", schedule={"cron": "* * * * *", "timezone": "Europe/Warsaw"})
        try:

            def completed() -> list[dict[str, Any]]:
                runs = api.runs(deployment["id"], started)
                bad = [r for r in runs if r["state_type"] in ("FAILED", "CRASHED")]
                assert not bad, log.read_text()
                return [r for r in runs if r["state_type"] == "COMPLETED"]

            wait_for("two completed follow-ups runs", lambda: len(completed()) >= 2, 300, log)
        finally:
            api.set_schedule("follow-ups", active=False)
    runs = completed()
    assert all(r["auto_scheduled"] for r in runs)
    assert {r["created_by"]["type"] for r in runs} == {"SCHEDULE"}
    reminders = received(capture)
    expected = {(SEMINAR, "Przypomnienie:", who) for who in invited if who != said_no}
    expected |= {("drugi", "Przypomnienie:", who) for who in invited}
    assert set(reminders) == expected
    assert set(reminders.values()) == {1}  # once each, whichever run sent it


def test_closing_attendance_runs_the_follow_ups_through_the_trigger(
    full_prefect: str,
    tmp_path: Path,
    listonosz_env: Path,
    capture: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The seminar was two days ago; its thank-you waits for attendance to be closed. With no
    schedule active, ``listonosz attendance close`` alone makes the thank-you and
    we-missed-you go: the follow-ups run that sends them was started by the automation."""
    day = dt.datetime.now(WARSAW).date() - dt.timedelta(days=2)
    project = tmp_path / "project"
    path = write_project(project, 4, when=day)
    # attendance stays open until staff close it (the default closes it a day after the end)
    text = path.read_text().replace(
        "  timezone: Europe/Warsaw\n", "  timezone: Europe/Warsaw\n  attendance_closes: 7d\n", 1
    )
    path.write_text(text)
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(project))
    campaign = load_campaign(path)
    people = [f"osoba.{n}@gmina{n}.example.pl" for n in range(4)]
    came, absent, walked_in, declined = people
    before = campaign.event.starts_at - dt.timedelta(days=5)
    with Participants(Settings().resolved_ledger_url) as store:
        for who, answer in ((came, "yes"), (absent, "yes"), (declined, "no")):
            store.answer(SEMINAR, who, answer, "web", before)
        for who in (came, walked_in):
            store.attend(SEMINAR, who, "attended", "check-in", campaign.event.ends_at)
    env = worker_env(full_prefect, project)
    due = subprocess.run(
        [LISTONOSZ, "followups", "due", SEMINAR], env=env, capture_output=True, text=True
    )
    assert due.returncode == 0, due.stderr
    assert f"{SEMINAR}/thank_you: waiting" in due.stdout

    api = Api(full_prefect)
    log = tmp_path / "worker.log"
    with deployed_worker(env, log):
        deployment = api.set_schedule("follow-ups", active=False)
        assert not deployment["schedules"][0]["active"]
        started = dt.datetime.now(dt.UTC)
        closed = subprocess.run(
            [LISTONOSZ, "attendance", "close", "campaigns/bench.yaml"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert closed.returncode == 0, closed.stderr
        assert "Prefect event sent" in closed.stdout

        def finished() -> list[dict[str, Any]]:
            runs = api.runs(deployment["id"], started)
            return [r for r in runs if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED")]

        wait_for("follow-ups run after closing attendance", lambda: bool(finished()), 180, log)
    (run,) = api.runs(deployment["id"], started)
    assert run["state_type"] == "COMPLETED", log.read_text()
    assert run["created_by"]["type"] == "AUTOMATION"
    assert run["created_by"]["display_value"] == "follow-ups when attendance is closed"
    assert not run["auto_scheduled"]
    assert run["parameters"] == {"campaign": SEMINAR}
    assert set(received(capture).elements()) == {
        (SEMINAR, "Dziękujemy", came),
        (SEMINAR, "Dziękujemy", walked_in),
        (SEMINAR, "Brakowało", absent),
    }
    assert sum(received(capture).values()) == 3


def test_staff_start_a_dry_run_from_the_prefect_ui_form(
    full_prefect: str,
    tmp_path: Path,
    listonosz_env: Path,
    capture: Capture,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """The deployment's parameter schema, read back from the API after ``prefect deploy``,
    lists the project's campaigns and message kinds; the server refuses any other campaign;
    in the Prefect UI's form staff pick a campaign, switch dry run on and submit, and the
    worker writes the messages to var/dry-run, sending nothing."""
    from playwright.sync_api import Route, sync_playwright

    from listonosz.render.screenshot import find_chromium

    binary = find_chromium()
    if binary is None:
        unavailable(
            "Chromium is not installed: run scripts/setup-system.sh as root "
            "(`make test` runs it), or `apt-get install chromium`"
        )
    project = tmp_path / "project"
    first = write_project(project, 3, when=dt.date.today() + dt.timedelta(days=30))
    second = project / "campaigns" / "drugi.yaml"
    second.write_text(first.read_text().replace(f"id: {SEMINAR}", "id: drugi"))
    (project / "campaigns" / "zepsuty.yaml").write_text("id: [not a campaign\n")
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(project))
    kinds = list(load_campaign(first).messages)

    api = Api(full_prefect)
    log = tmp_path / "worker.log"
    with deployed_worker(worker_env(full_prefect, project), log):
        deployment = api.deployment("send-campaign")
        schema = deployment["parameter_openapi_schema"]["properties"]
        assert sorted(schema["campaign_path"]["enum"]) == [
            "campaigns/bench.yaml",
            "campaigns/drugi.yaml",
        ]
        assert schema["message"]["enum"] == kinds
        assert schema["dry_run"]["type"] == "boolean"
        assert schema["test_to"]["type"] == "string"
        refused = api.client.post(
            f"/deployments/{deployment['id']}/create_flow_run",
            json={"parameters": {"campaign_path": "campaigns/zepsuty.yaml"}},
        )
        assert refused.status_code == 409, refused.text
        quick = api.client.post(f"/deployments/{deployment['id']}/create_flow_run", json={})
        assert quick.status_code == 409, quick.text  # Quick run: no campaign chosen

        started = dt.datetime.now(dt.UTC)
        ui = full_prefect.removesuffix("/api")
        shots = Path(request.config.getoption("screenshots") or tmp_path)

        def loopback_only(route: Route) -> None:
            if route.request.url.startswith(ui + "/"):
                route.continue_()
            else:
                route.abort()

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=binary)
            try:
                context = browser.new_context(
                    viewport={"width": 1280, "height": 1000},
                    color_scheme="light",
                    reduced_motion="reduce",
                )
                context.route("**/*", loopback_only)
                page = context.new_page()
                page.goto(f"{ui}/v2/deployments/deployment/{deployment['id']}/run")
                page.get_by_label("Select campaign_path").click()
                options = page.get_by_role("option")
                assert sorted(options.all_inner_texts()) == [
                    "campaigns/bench.yaml",
                    "campaigns/drugi.yaml",
                ]
                options.filter(has_text="campaigns/drugi.yaml").click()
                page.get_by_label("dry_run (Optional)", exact=True).click()
                page.get_by_label("Select message").click()
                assert page.get_by_role("option").all_inner_texts() == kinds
                page.wait_for_timeout(500)  # the drop-down's fade-in, for the picture
                page.screenshot(path=shots / "prefect-run-form.png")
                page.keyboard.press("Escape")
                page.get_by_role("option").first.wait_for(state="detached")
                with page.expect_response(lambda r: r.url.endswith("/create_flow_run")) as sent:
                    page.get_by_role("button", name="Submit").click()
                assert sent.value.status == 201, sent.value.text()
            finally:
                browser.close()

        def finished() -> list[dict[str, Any]]:
            runs = api.runs(deployment["id"], started)
            return [r for r in runs if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED")]

        wait_for("the run staff started", lambda: bool(finished()), 180, log)
    (run,) = finished()
    assert run["state_type"] == "COMPLETED", log.read_text()
    assert run["parameters"]["campaign_path"] == "campaigns/drugi.yaml"
    assert run["parameters"]["message"] == "invitation"
    assert run["parameters"]["dry_run"] is True
    assert len(list((listonosz_env / "dry-run").glob("*.eml"))) == 3
    assert capture.messages() == []
