"""Stop means stop: SIGTERM, Ctrl-C to the process group and a pause, each at a random point of
a rate-limited send, then a rerun. Nobody gets the message twice, nobody is missed, the stopped
process ends within seconds and leaves no process behind."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, copies_received, deployed_worker, free_port
from tests.factories import write_project

RECIPIENTS = 2_000
RATE_PER_MINUTE = 3_000  # 50 messages a second through one shared token bucket
THREADS, CHUNK = 4, 20  # sending threads of a flow run, rows an SMTP chunk claims
EXIT_STOPPED = 3


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Project:
    campaign: Path
    outbox: Path
    var: Path
    env: dict[str, str]

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "listonosz.cli", *args]

    def count(self) -> int:
        return sum(1 for _ in self.outbox.glob("*.eml"))

    def start_send(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command("send", str(self.campaign), "--batch-size", "100"),
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as a terminal gives a job
        )

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ledger(self) -> dict[str, int]:
        with sqlite3.connect(self.var / "ledger.sqlite") as conn:
            statuses = dict(conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status"))
            statuses["takeovers"] = conn.execute(
                "SELECT count(*) FROM deliveries WHERE takeovers > 0"
            ).fetchone()[0]
        return statuses


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Prefect home for the module's temporary servers: its database is created once."""
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture
def project(tmp_path: Path, prefect_home: Path) -> Iterator[Project]:
    """A 2,000-recipient campaign, a capture SMTP server in its own process, and the settings
    of a rate-limited transport; Prefect's server is the CLI's own temporary one."""
    campaign = write_project(tmp_path / "project", RECIPIENTS)
    outbox, var, port = tmp_path / "outbox", tmp_path / "var", free_port()
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("LISTONOSZ_", "PREFECT_API_URL"))
        },
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "LISTONOSZ_PROJECT_DIR": str(campaign.parent.parent),
        "LISTONOSZ_VAR_DIR": str(var),
        "LISTONOSZ_CONFIG": str(tmp_path / "absent.toml"),
        "LISTONOSZ_TRANSPORTS__CAPTURE__PORT": str(port),
        "LISTONOSZ_TRANSPORTS__CAPTURE__RATE_PER_MINUTE": str(RATE_PER_MINUTE),
    }
    serve = ["capture-server", "--port", str(port), "--outbox", str(outbox)]
    sink = subprocess.Popen(
        [sys.executable, "-m", "listonosz.cli", *serve],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout and "listening" in sink.stdout.readline()
    try:
        yield Project(campaign, outbox, var, env)
    finally:
        sink.terminate()
        sink.wait(timeout=30)


def _wait_for(project: Project, run: subprocess.Popen[str], target: int) -> set[int]:
    """Wait until the sink holds ``target`` messages; the run's child processes seen so far."""
    children: set[int] = set()
    deadline = time.monotonic() + 240
    while project.count() < target:
        assert run.poll() is None, run.communicate()[0]
        assert time.monotonic() < deadline, "the run made no progress"
        children |= _children(run.pid)
        time.sleep(0.05)
    return children | _children(run.pid)


def _assert_everyone_once(project: Project) -> None:
    copies = Counter({a: len(ids) for a, ids in copies_received(project.outbox).items()})
    people = {f"osoba.{n}@gmina{n % 97}.example.pl" for n in range(RECIPIENTS)}
    assert set(copies) == people  # nobody missing
    assert [a for a, n in copies.items() if n > 1] == []  # nobody twice
    assert project.ledger() == {"sent": RECIPIENTS, "takeovers": 0}


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT to the process group"])
def test_a_signal_stops_cleanly_and_the_rerun_sends_the_rest_once(
    project: Project, how: str
) -> None:
    rng = random.Random(how)
    run = project.start_send()
    children = _wait_for(project, run, rng.randint(100, 1_500))
    at_signal = project.count()
    signalled = time.monotonic()
    if how == "SIGTERM":
        os.kill(run.pid, signal.SIGTERM)
    else:
        os.killpg(run.pid, signal.SIGINT)
    output, _ = run.communicate(timeout=60)
    took = time.monotonic() - signalled
    after_signal = project.count() - at_signal

    assert took < 10, output
    assert run.returncode == EXIT_STOPPED, output
    assert "stopped (SIG" in output and "not yet sent; run again to continue" in output
    assert after_signal <= THREADS * CHUNK  # at most one claimed chunk per thread
    assert children, "the run started no temporary Prefect server"
    assert [pid for pid in children if _alive(pid)] == []  # nothing left behind
    assert "sending" not in project.ledger()  # everything claimed was settled
    print(f"{how}: exited {took:.1f} s after the signal, {after_signal} message(s) after it")

    rerun = project.run("send", str(project.campaign), "--batch-size", "100")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "Possible duplicates" not in rerun.stdout
    assert f"already settled before this run: {at_signal + after_signal}" in rerun.stdout
    _assert_everyone_once(project)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pause_stops_a_running_send_and_resume_finishes_it(project: Project) -> None:
    run = project.start_send()
    _wait_for(project, run, random.Random(3).randint(100, 1_000))
    paused = project.run("pause", str(project.campaign))
    assert paused.returncode == 0 and "Paused campaign" in paused.stdout, paused.stderr
    asked = time.monotonic()
    output, _ = run.communicate(timeout=60)
    assert time.monotonic() - asked < 10, output
    assert run.returncode == EXIT_STOPPED, output
    assert "paused: " in output

    again = project.run("send", str(project.campaign))
    assert again.returncode == EXIT_STOPPED and "paused: 0 sent" in again.stderr, again.stdout
    report = project.run("report", str(project.campaign))
    assert "paused since" in report.stdout

    resumed = project.run("resume", str(project.campaign))
    assert resumed.returncode == 0 and "Resumed campaign" in resumed.stdout
    final = project.run("send", str(project.campaign), "--batch-size", "100")
    assert final.returncode == 0, final.stdout + final.stderr
    _assert_everyone_once(project)


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        children = _children(todo.pop())
        found |= children
        todo.extend(children)
    return found


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_deployment_run_cancelled_through_the_api_stops_cleanly(
    project: Project, prefect_server: str, tmp_path: Path
) -> None:
    """A process worker runs the deployment; Prefect's API cancels it mid-send; a rerun from
    the command line sends the rest, and nobody has the message twice."""
    from prefect import get_client
    from prefect.states import Cancelling

    env = {**project.env, "PREFECT_API_URL": prefect_server}
    with (
        deployed_worker(env, tmp_path / "worker.log") as worker,
        get_client(sync_client=True) as client,
    ):
        deployment = client.read_deployment_by_name("send-campaign/send-campaign")
        run = client.create_flow_run_from_deployment(
            deployment.id,
            # as the form offers it: relative to the project, one of the deployed choices
            parameters={"campaign_path": f"campaigns/{project.campaign.name}", "batch_size": 100},
        )
        deadline = time.monotonic() + 300
        target = random.Random(11).randint(100, 1_500)
        processes: set[int] = set()
        while project.count() < target:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            processes |= _descendants(worker.pid)
            time.sleep(0.05)
        processes |= _descendants(worker.pid)
        at_cancel = project.count()
        asked = time.monotonic()
        client.set_flow_run_state(run.id, Cancelling(message="wrong message"), force=True)
        while any(_alive(pid) for pid in processes):
            assert time.monotonic() - asked < 10, "the cancelled run is still running"
            time.sleep(0.05)
        took = time.monotonic() - asked
        after_cancel = project.count() - at_cancel
        for _ in range(100):  # the worker records the final state just after the exit
            state = client.read_flow_run(run.id).state
            if state is not None and state.is_final():
                break
            time.sleep(0.1)
    assert state is not None and state.is_cancelled(), state
    assert processes, "no flow run process was seen"
    assert after_cancel <= THREADS * CHUNK
    assert "sending" not in project.ledger()
    print(f"cancelled: the run's processes ended {took:.1f} s later, {after_cancel} after it")

    rerun = project.run("send", str(project.campaign), "--batch-size", "100")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "Possible duplicates" not in rerun.stdout
    _assert_everyone_once(project)
