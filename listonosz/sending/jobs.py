"""One campaign's batches sent by any number of worker processes, on any number of machines.

The run that plans (the coordinator) checks every recipient's message before anything is
claimed, then hands out :class:`BatchJob` s: the batch's recipients and what a worker needs to
render their messages again (the campaign file, the message kind, the run's moment). A worker
keeps per process what jobs share (:class:`JobRunner`: renderers, transports with their
connection pools, the ledger) and sends a job as the coordinator's own threads would: claim,
send, settle, a chunk at a time. The ledger's claims are the only coordination, so two
workers never win the same row. Each job beats under a run id of its own; the coordinator
watches those heartbeats (:class:`JobWatch`) and hands a job out again when its worker stopped
beating (a kill -9, a lost machine): the new attempt takes over the rows left in flight after
the lease, resends them with the same Message-ID and counts them as possible duplicates.
A job checks before each claim that its coordinator is still alive and has not stopped; a job
a worker picks up after the end of its run sends nothing.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import os
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from listonosz.campaign import Campaign, open_campaign
from listonosz.config import Settings, TransportSettings
from listonosz.contacts.model import Contact
from listonosz.sending.batch import BatchReport, BatchSender
from listonosz.sending.pipeline import MessageFactory
from listonosz.sending.prepare import prepare_messages
from listonosz.sending.spool import Spool
from listonosz.stopping import Stop
from listonosz.store import SENT, SETTLED, Heartbeat, Holds, Ledger, delivery_key
from listonosz.tracking import Tracker
from listonosz.transports import Transport, make_transport, service_name


@dataclass(frozen=True)
class BatchJob:
    """One batch of one run, as a worker receives it. ``run_id`` is this attempt's own (its
    heartbeat and the owner of its claims); ``coordinator`` the run that handed it out."""

    campaign_path: str
    kind: str
    transport: str | None  # a transport named in the settings; the default when None
    now: dt.datetime
    coordinator: str
    run_id: str
    number: int
    attempt: int
    contacts: tuple[Contact, ...]

    def again(self, contacts: Sequence[Contact] | None = None) -> BatchJob:
        """The next attempt of this job (for ``contacts``, or the same recipients)."""
        attempt = self.attempt + 1
        return replace(
            self,
            attempt=attempt,
            run_id=job_run_id(self.coordinator, self.number, attempt),
            contacts=tuple(self.contacts if contacts is None else contacts),
        )


def job_run_id(coordinator: str, number: int, attempt: int) -> str:
    """The run id a job's attempt beats and claims under."""
    return f"{coordinator}-b{number}-a{attempt}"


def make_jobs(
    campaign_path: str,
    kind: str,
    transport: str | None,
    now: dt.datetime,
    coordinator: str,
    recipients: Sequence[Contact],
    size: int,
) -> list[BatchJob]:
    """The run's recipients in jobs of ``size``, numbered from 1."""
    return [
        BatchJob(
            campaign_path,
            kind,
            transport,
            now,
            coordinator,
            job_run_id(coordinator, number, 1),
            number,
            1,
            tuple(recipients[start : start + size]),
        )
        for number, start in enumerate(range(0, len(recipients), size), 1)
    ]


def worker_name() -> str:
    """How reports name a worker process: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Setup:
    campaign: Campaign
    factory: MessageFactory
    transport: Transport
    ledger: Ledger
    control: Ledger
    tracker: Tracker
    holds: Holds


class JobRunner:
    """A worker process's side: sends :class:`BatchJob` s, keeping what they share.

    ``throttle`` gives a transport's shared rate limit (a Prefect global concurrency limit);
    ``stop`` is the process's own stop (SIGTERM to the worker): a job then claims nothing
    more, settles what it holds and returns, marked stopped, for the coordinator to hand out
    again.
    """

    def __init__(
        self,
        settings: Settings,
        stop: Stop | None = None,
        throttle: Callable[[TransportSettings], Callable[[], None] | None] | None = None,
    ) -> None:
        self.settings = settings
        self.stop = stop or Stop()
        self._throttle = throttle
        self._setups: dict[tuple[str, str, str | None, dt.datetime], _Setup] = {}
        self._lock = threading.Lock()
        self.active = 0  # jobs running now

    def run(self, job: BatchJob) -> BatchReport:
        """Render the job's messages, then claim, send and settle them under its own lease."""
        with self._lock:
            self.active += 1
        try:
            return self._run(job)
        finally:
            with self._lock:
                self.active -= 1

    def _run(self, job: BatchJob) -> BatchReport:
        setup = self._setup(job)
        setup.ledger.beat(job.run_id)  # begun: from here on a silence means a dead worker
        lease = dt.timedelta(seconds=self.settings.lease_seconds)
        coordinator = job.coordinator
        campaign_id = setup.campaign.id

        def stopping() -> bool:
            """The coordinator stopped (or died), or staff paused the campaign."""
            beat = setup.ledger.heartbeats([coordinator]).get(coordinator)
            if beat is None or not beat.alive(lease):
                return True
            return setup.control.paused(campaign_id, job.kind) is not None

        if stopping():  # picked up after its run ended: nothing to do
            return BatchReport(stopped=True)
        with Spool(self.settings.var_dir / "spool") as spool:
            mime = setup.transport.wants_mime
            ready = prepare_messages(setup.factory, job.contacts, mime, workers=0, spool=spool)
            with setup.ledger.lease(job.run_id, interval=self.settings.lease_seconds / 4):
                sender = BatchSender(
                    campaign_id,
                    job.kind,
                    setup.ledger,
                    setup.transport,
                    job.run_id,
                    lease,
                    tracker=setup.tracker,
                    stop=self.stop,
                    paused=stopping,
                )
                report = sender.send(ready)
        report.sent_by[worker_name()] += report.counts.get(SENT, 0)
        return report

    def _setup(self, job: BatchJob) -> _Setup:
        """What jobs of one run share, made by the first of them in this process."""
        name = (job.campaign_path, job.kind, job.transport, job.now)
        with self._lock:
            setup = self._setups.get(name)
            if setup is None:
                setup = self._setups[name] = self._open(job)
            return setup

    def _open(self, job: BatchJob) -> _Setup:
        settings = self.settings
        campaign = open_campaign(job.campaign_path, settings)
        campaign = campaign.model_copy(update={"transport": job.transport})
        transport_settings = settings.transport_settings(job.transport)
        throttle = self._throttle(transport_settings) if self._throttle else None
        outbox = settings.outbox_path(transport_settings)
        ledger_url = settings.ledger_url_for(transport_settings)
        holds = Holds(ledger_url)
        hold = holds.named(service_name(transport_settings))
        transport = make_transport(transport_settings, outbox, throttle, self.stop, hold)
        return _Setup(
            campaign=campaign,
            factory=MessageFactory(campaign, job.kind, settings, now=job.now),
            transport=transport,
            ledger=Ledger(ledger_url),
            control=Ledger(settings.resolved_ledger_url),
            tracker=Tracker(ledger_url, settings.signing_secret()),
            holds=holds,
        )

    def close(self) -> None:
        """Close every transport and store handle this process opened."""
        with self._lock:
            for setup in self._setups.values():
                setup.transport.close()
                setup.ledger.close()
                setup.control.close()
                setup.tracker.close()
                setup.holds.close()
            self._setups.clear()


_LONG_AGO = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass
class _Attempt:
    job: BatchJob
    handle: object  # what ``submit`` returned: the coordinator's way to its result


@dataclass
class JobWatch:
    """The coordinator's side: hands jobs out, watches their heartbeats, hands out again.

    ``submit`` queues a job for the workers and returns a handle; ``outcome`` returns the
    :class:`BatchReport` of a finished job's handle (raising what the job raised);
    ``taken_at`` says for handles when a worker took them (None: still queued). A job whose
    worker stopped beating for ``lease`` is handed out again, for the recipients it had not
    settled; so is a job a worker took but never began (it died first), and a job a worker
    gave back stopped while the run goes on.
    """

    ledger: Ledger
    campaign_id: str
    lease: dt.timedelta
    submit: Callable[[BatchJob], object]
    outcome: Callable[[object], BatchReport]
    stop: Stop
    taken_at: Callable[[list[object]], list[dt.datetime | None]] | None = None
    pending: dict[str, _Attempt] = field(default_factory=dict)
    reports: list[BatchReport] = field(default_factory=list)
    handed_out_again: int = 0
    abandoned: list[BatchJob] = field(default_factory=list)
    _next_look: dt.datetime = _LONG_AGO
    _last_sign: dt.datetime | None = None  # when a job of the run was last seen begun

    def start(self, jobs: Iterable[BatchJob], threads: int = 8) -> None:
        """Hand out every job, ``threads`` at a time (queueing one is a round trip or two);
        each thread runs in a copy of the caller's context (an orchestrator's lives there)."""
        jobs = list(jobs)
        contexts = [contextvars.copy_context() for _ in jobs]  # one each: a context runs once
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hand-out") as pool:
            handles = list(pool.map(lambda c, j: c.run(self.submit, j), contexts, jobs))
        for job, handle in zip(jobs, handles, strict=True):
            self.pending[job.run_id] = _Attempt(job, handle)

    def _hand_out(self, job: BatchJob) -> None:
        self.pending[job.run_id] = _Attempt(job, self.submit(job))

    def poll(self, now: dt.datetime | None = None) -> None:
        """One look at the heartbeats: collect what finished, hand out again what died."""
        beats = self.ledger.heartbeats(self.pending)
        now = now or dt.datetime.now(dt.UTC)
        self._taken_but_never_begun(beats, now)
        for run_id, beat in beats.items():
            attempt = self.pending[run_id]
            if beat.finished:
                del self.pending[run_id]
                report = self.outcome(attempt.handle)
                self.reports.append(report)
                if report.stopped and not self.stop.requested:
                    self._again(attempt.job)
            elif not beat.alive(self.lease, now):
                del self.pending[run_id]
                self.abandoned.append(attempt.job)
                if not self.stop.requested:
                    self._again(attempt.job)

    def _taken_but_never_begun(self, beats: dict[str, Heartbeat], now: dt.datetime) -> None:
        """Hand out again the jobs that will never begin: taken by a worker more than a lease
        ago without a first heartbeat, or (a worker that died may take one job beyond its
        limit with it, which Prefect then holds as queued) all jobs never begun once the
        run's workers have been silent for a lease. A job handed out twice does no harm: the
        ledger's claims let only one attempt send a row, and an attempt that begins after
        the run ended sends nothing."""
        if any(beat.alive(self.lease, now) or beat.finished for beat in beats.values()):
            self._last_sign = now
        if self._last_sign is None:  # no worker has begun a job yet
            self._last_sign = now if beats else None
        if now < self._next_look:
            return
        self._next_look = now + self.lease / 2
        silent = [run_id for run_id in self.pending if run_id not in beats]
        if not silent:
            return
        stalled = self._last_sign is not None and now - self._last_sign > self.lease
        taken: list[dt.datetime | None] = [None] * len(silent)
        if self.taken_at is not None and not stalled:
            taken = self.taken_at([self.pending[run_id].handle for run_id in silent])
        for run_id, at in zip(silent, taken, strict=True):
            if stalled or (at is not None and now - at > self.lease):
                attempt = self.pending.pop(run_id)
                self.abandoned.append(attempt.job)
                if not self.stop.requested:
                    self._again(attempt.job)
        if stalled:
            self._last_sign = now

    def _again(self, job: BatchJob) -> None:
        """Hand out again what a job left unsettled (none: nothing to do)."""
        keys = {delivery_key(self.campaign_id, job.kind, c.email): c for c in job.contacts}
        settled = {
            key
            for key, delivery in self.ledger.deliveries(keys).items()
            if delivery.status in SETTLED
        }
        rest = [contact for key, contact in keys.items() if key not in settled]
        if rest:
            self.handed_out_again += 1
            self._hand_out(job.again(rest))

    def running(self, beats: dict[str, Heartbeat] | None = None) -> int:
        """Jobs a worker has started and still beats for."""
        beats = self.ledger.heartbeats(self.pending) if beats is None else beats
        return sum(1 for beat in beats.values() if beat.alive(self.lease))

    @property
    def done(self) -> bool:
        """Nothing left to wait for: every job finished, or the run stops and no job that
        started is still running (jobs not yet picked up will send nothing)."""
        if not self.pending:
            return True
        return self.stop.requested and self.running() == 0
