"""Batches on workers, without Prefect: jobs run by a JobRunner in threads of this process, and
the coordinator's JobWatch handing out again what a dead worker left. tests/e2e/test_workers.py
runs it all with Prefect task workers, PostgreSQL and a kill -9."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from listonosz.campaign import load_campaign
from listonosz.config import Settings
from listonosz.contacts.model import Contact
from listonosz.sending import BatchJob, BatchReport, JobRunner, JobWatch, make_jobs, merge_audience
from listonosz.stopping import Stop
from listonosz.store import SENT, Ledger, Outcome, delivery_key
from tests.conftest import CAMPAIGN

KIND = "invitation"
NOW = dt.datetime(2016, 8, 20, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=30)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var", lease_seconds=LEASE.total_seconds())


@pytest.fixture
def audience() -> list[Contact]:
    return merge_audience(load_campaign(CAMPAIGN)).contacts


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    """The dry run's ledger, which jobs through the ``outbox`` transport record into."""
    handle = Ledger(settings.ledger_url_for(settings.transport_settings("outbox")))
    yield handle
    handle.close()


def _jobs(audience: list[Contact], coordinator: str, size: int = 20) -> list[BatchJob]:
    return make_jobs(str(CAMPAIGN), KIND, "outbox", NOW, coordinator, audience, size)


def _watch(
    ledger: Ledger,
    submitted: list[BatchJob],
    run: object = None,
    **options: object,
) -> JobWatch:
    """A watch whose ``submit`` records each job and runs it with ``run`` (if given) in a
    thread; a handle is that thread's future, or None."""
    pool = ThreadPoolExecutor(max_workers=2)

    def submit(job: BatchJob) -> Future[BatchReport] | None:
        submitted.append(job)
        return pool.submit(run, job) if callable(run) else None

    def outcome(handle: object) -> BatchReport:
        assert isinstance(handle, Future)
        report: BatchReport = handle.result(timeout=60)
        return report

    return JobWatch(ledger, "ekonomia-spoleczna-2016", LEASE, submit, outcome, Stop(), **options)


def test_jobs_run_by_workers_send_everyone_once(
    settings: Settings, ledger: Ledger, audience: list[Contact]
) -> None:
    runner, submitted = JobRunner(settings), []
    try:
        with ledger.lease("coordinator"):
            watch = _watch(ledger, submitted, runner.run)
            watch.start(_jobs(audience, "coordinator"))
            while not watch.done:
                watch.poll()
    finally:
        runner.close()
    assert [job.number for job in submitted] == [1, 2, 3, 4, 5]
    assert sum(r.counts[SENT] for r in watch.reports) == len(audience) == 86
    assert ledger.status_counts("ekonomia-spoleczna-2016", KIND) == {SENT: 86}
    eml = list((settings.var_dir / "dry-run").glob("*.eml"))
    assert len(eml) == 86
    counts, taken_over = ledger.tally_of_runs("ekonomia-spoleczna-2016", KIND, "coordinator-")
    assert counts == {SENT: 86} and taken_over == 0
    (worker,) = {name for r in watch.reports for name in r.sent_by}
    assert sum(r.sent_by[worker] for r in watch.reports) == 86


def test_a_job_picked_up_after_its_run_ended_sends_nothing(
    settings: Settings, ledger: Ledger, audience: list[Contact]
) -> None:
    ledger.beat("coordinator", finished=True)
    runner = JobRunner(settings)
    try:
        report = runner.run(_jobs(audience, "coordinator")[0])
    finally:
        runner.close()
    assert report.stopped and not report.counts
    assert not (settings.var_dir / "dry-run").exists() or not list(
        (settings.var_dir / "dry-run").glob("*.eml")
    )


def test_a_job_whose_worker_died_is_handed_out_again_for_what_it_left(
    ledger: Ledger, audience: list[Contact]
) -> None:
    """The dead attempt settled 5 of its 20 rows and held 5 in flight; the next attempt gets
    the 15 not settled, under a new run id, once the lease has passed."""
    submitted: list[BatchJob] = []
    watch = _watch(ledger, submitted)
    job = _jobs(audience, "coordinator")[0]
    watch.start([job])
    rows = [(c.email, ";".join(c.groups), f"<{c.email}>") for c in job.contacts[:10]]
    claims = ledger.claim("ekonomia-spoleczna-2016", KIND, rows, job.run_id, LEASE)
    assert len(claims) == 10
    settled = [delivery_key("ekonomia-spoleczna-2016", KIND, c.email) for c in job.contacts[:5]]
    ledger.settle(job.run_id, [Outcome(key, SENT) for key in settled])
    watch.poll()  # beating: nothing happens
    assert len(submitted) == 1 and watch.pending
    watch.poll(now=dt.datetime.now(dt.UTC) + 2 * LEASE)
    assert len(submitted) == 2 and watch.abandoned == [job]
    again = submitted[1]
    assert again.attempt == 2 and again.run_id != job.run_id and again.number == job.number
    assert list(again.contacts) == list(job.contacts[5:])


def test_jobs_taken_but_never_begun_are_handed_out_again(
    ledger: Ledger, audience: list[Contact]
) -> None:
    """One job a worker took long ago and never began (it died), one still queued: only the
    first is handed out again; once nothing of the run has beaten for a lease, every job not
    begun is (a dead worker can take one beyond its limit, which Prefect then keeps as
    queued)."""
    submitted: list[BatchJob] = []
    first, second, third = _jobs(audience, "coordinator")[:3]
    long_ago = dt.datetime.now(dt.UTC) - 3 * LEASE
    taken = {first.run_id: long_ago, second.run_id: None, third.run_id: None}

    def taken_at(handles: list[object]) -> list[dt.datetime | None]:
        return [taken[str(h)] for h in handles]

    watch = _watch(ledger, submitted, taken_at=taken_at)
    watch.submit = lambda job: submitted.append(job) or job.run_id  # the handle: its run id
    watch.start([first, second, third])
    ledger.beat(third.run_id)  # the third began
    watch.poll()
    assert [job.number for job in submitted[3:]] == [1]
    assert set(watch.pending) == {second.run_id, third.run_id, submitted[3].run_id}
    # The third finishes; then silence: after a lease the second (and the first's second
    # attempt, never begun either) are handed out again.
    ledger.beat(third.run_id, finished=True)
    watch.outcome = lambda handle: BatchReport()
    watch.poll()
    later = dt.datetime.now(dt.UTC) + 2 * LEASE
    watch.poll(now=later)
    assert sorted(job.number for job in submitted[4:]) == [1, 2]
    assert {job.attempt for job in submitted[4:]} == {2, 3}
