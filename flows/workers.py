"""Batches of one campaign on any number of Prefect task workers (``listonosz worker``).

The ``send-campaign`` flow with ``on_workers`` hands its batches out with ``.delay()``; every
process serving :func:`send_job` (on this machine or another with the same project, settings
and a shared PostgreSQL ledger) takes them as it has room. Prefect carries the jobs and their
results (in its task scheduling and result storage: a folder all workers share when they are
on several machines); which rows each job sends is decided by the ledger's claims alone.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import cast

from prefect import get_client, task
from prefect.cache_policies import NONE
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterId
from prefect.futures import PrefectDistributedFuture

from listonosz.config import Settings, TransportSettings
from listonosz.sending import BatchJob, BatchReport, JobRunner
from listonosz.stopping import SIGNALLED, Stop, hard_stop, to_stderr

_runner: JobRunner | None = None
_runner_lock = threading.Lock()


def prefect_throttle(settings: TransportSettings) -> Callable[[], None] | None:
    """Occupy the named Prefect global concurrency limit per message, shared by all workers."""
    if not settings.prefect_limit:
        return None
    from prefect.concurrency.sync import rate_limit

    name = settings.prefect_limit
    return lambda: rate_limit(name, occupy=1)


def runner() -> JobRunner:
    """This process's job runner, made by the first job (or by :func:`serve_jobs`)."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = JobRunner(Settings(), throttle=prefect_throttle)
        return _runner


@task(
    name="send-batch-job",
    cache_policy=NONE,
    task_run_name="send-batch-{job.number}-attempt-{job.attempt}",
)
def send_job(job: BatchJob) -> BatchReport:
    """Send one batch of a run on this worker: render, claim, send, settle."""
    return runner().run(job)


def hand_out(job: BatchJob) -> PrefectDistributedFuture[BatchReport]:
    """Queue ``job`` for whichever task worker has room."""
    return send_job.delay(job)


def taken_at(handles: list[object]) -> list[dt.datetime | None]:
    """When a worker took each job (its task run left Scheduled); None while still queued."""
    ids = [cast(PrefectDistributedFuture[BatchReport], h).task_run_id for h in handles]
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(id=TaskRunFilterId(any_=ids)))
    state_of = {run.id: run.state for run in runs}
    taken: list[dt.datetime | None] = []
    for task_run_id in ids:
        state = state_of.get(task_run_id)
        began = state is not None and (state.is_pending() or state.is_running())
        taken.append(state.timestamp if began and state is not None else None)
    return taken


def outcome_of(handle: object, timeout: float = 60.0) -> BatchReport:
    """The report of a job whose heartbeat says it finished (its result may lag a little). A
    job whose result never comes (its worker ended as it finished) counts as stopped: the
    coordinator hands out again whatever it did not settle."""
    assert isinstance(handle, PrefectDistributedFuture)
    deadline = time.monotonic() + timeout
    while True:  # the worker reports states through events: the API may not have them yet
        try:
            handle.wait(max(0.1, deadline - time.monotonic()))
            break
        except RuntimeError:  # "has no state" yet
            if time.monotonic() > deadline:
                return BatchReport(stopped=True)
            time.sleep(0.2)
    if handle.state.is_completed():
        report: BatchReport = handle.result()
        return report
    if handle.state.is_failed():
        handle.result()  # raises what the job raised
    return BatchReport(stopped=True)


def serve_jobs(limit: int) -> None:
    """Serve batch jobs until stopped. The first SIGINT or SIGTERM lets the running jobs settle
    what they hold and claim nothing more, then ends the worker; a second ends it at once."""
    from prefect.task_worker import serve

    global _runner
    stop = Stop()
    with _runner_lock:
        _runner = JobRunner(Settings(), stop, throttle=prefect_throttle)
    job_runner = _runner
    settled = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if settled.is_set():  # our own, once the jobs have settled: leave serve()
            raise KeyboardInterrupt
        if stop.requested:
            hard_stop(128 + signum)
        name = signal.Signals(signum).name
        stop.request(SIGNALLED, name)
        to_stderr(f"{name}: the running batches settle what they hold, then the worker ends.")

    def end_when_settled() -> None:
        stop.wait()
        while job_runner.active:
            time.sleep(0.1)
        time.sleep(1.0)  # let Prefect record the jobs' final states
        settled.set()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=end_when_settled, name="worker-stop", daemon=True).start()
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve(send_job, limit=limit)
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        job_runner.close()
