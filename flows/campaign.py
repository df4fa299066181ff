"""The ``send-campaign`` flow: merge contacts, plan, send one batch per task, report.

The flow reads like the job's table of contents; the work is in ``listonosz``. Parameters
carry no secrets: settings (SMTP passwords, token secret) come from the worker's environment.
The ledger and the transport's connection pool are opened once per flow run and shared by
the batch tasks, which run in threads of this process. Big inputs (the audience, the prepared
messages) are passed ``quote``d: Prefect would otherwise walk every contact looking for futures.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from prefect import flow, get_client, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, wait
from prefect.states import Cancelled, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows.form import CampaignFile, MessageKind
from flows.progress import progress_shown, thread_in_this_context
from flows.workers import hand_out, outcome_of, prefect_throttle, taken_at
from listonosz.campaign import Campaign, CampaignError, open_campaign
from listonosz.config import Settings
from listonosz.contacts.merge import MergeResult
from listonosz.contacts.normalise import normalise_email
from listonosz.contacts.report import report_rows, write_report
from listonosz.lifecycle import audience_of, read_state
from listonosz.sending import (
    BatchJob,
    BatchReport,
    BatchSender,
    JobWatch,
    MessageFactory,
    Plan,
    Ready,
    SendReport,
    Spool,
    build_report,
    check_public_url,
    make_jobs,
    merge_audience,
    plan_delivery,
    prepare_messages,
    send_samples,
)
from listonosz.stopping import CANCELLED, PAUSED, Stop, graceful_signals
from listonosz.store import Holds, Ledger, Participants, SuppressionList
from listonosz.tracking import Tracker
from listonosz.transports import Transport, make_transport, service_name

T = TypeVar("T")


def _quoted(value: T) -> T:
    """``value`` for a task, ``quote``d so that Prefect does not walk it; typed as the value,
    which is what the task receives (Prefect unwraps it)."""
    return cast(T, quote(value))


@task(name="merge-contacts", cache_policy=NONE)
def merge_contacts(
    campaign: Campaign, settings: Settings, suppression: SuppressionList, kind: str
) -> MergeResult:
    """The audience of one message kind, with a contacts report as a CSV file and as a
    Prefect table artifact."""
    merged = merge_audience(campaign, suppression, kind)
    report_path = settings.var_dir / "reports" / f"{campaign.id}-contacts.csv"
    write_report(merged, report_path)
    create_table_artifact(
        table=report_rows(merged),
        key=f"{artifact_key(campaign.id)}-contacts",
        description=f"Sources, groups, rejects, warnings, conflicts; also in {report_path}",
    )
    logger = get_run_logger()
    rows = sum(merged.rows_read.values())
    logger.info("Audience: %d people from %d rows", len(merged.contacts), rows)
    if merged.rejects:
        logger.warning("%d rows left out of the audience (see the report)", len(merged.rejects))
    return merged


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys take lower-case letters, digits and dashes only."""
    return "-".join(parts).lower().replace("_", "-").replace(".", "-")


@task(name="plan", cache_policy=NONE)
def plan(
    factory: MessageFactory,
    merged: MergeResult,
    ledger: Ledger,
    transport: Transport,
    stop: Stop,
    spool: Spool,
) -> tuple[Plan, list[Ready]]:
    """Who gets the message now, and their messages. Before anything is claimed, every one of
    them is rendered and assembled into ``spool`` (a template error lists every recipient it
    hits) and the transport is checked. A stop while preparing ends it there, with nothing to
    send."""
    result = plan_delivery(factory.campaign, factory.kind, merged.contacts, ledger)
    mime = transport.wants_mime
    ready = prepare_messages(factory, result.recipients, mime, stop=stop, spool=spool)
    if ready:
        transport.check()
    get_run_logger().info(
        "%d to send, %d already settled", len(result.recipients), result.already_settled
    )
    return result, ready


@task(name="send-batch", cache_policy=NONE, task_run_name="send-batch-{number}")
def send_batch(sender: BatchSender, batch: list[Ready], number: int) -> BatchReport:
    try:
        return sender.send(batch)
    except BaseException:
        sender.stop.request(CANCELLED, "a batch failed")  # the others claim nothing more
        raise


@task(name="report", cache_policy=NONE)
def report(
    merged: MergeResult, planned: Plan, batches: list[BatchReport], ledger: Ledger, stop: Stop
) -> SendReport:
    result = build_report(merged, planned, batches, ledger, stop)
    key = artifact_key(planned.campaign_id, planned.kind)
    create_table_artifact(table=result.groups, key=key, description="Per stakeholder group.")
    create_markdown_artifact(markdown=f"```\n{result.summary()}\n```", key=f"{key}-summary")
    return result


@task(name="send-sample", cache_policy=NONE)
def send_sample(campaign: Campaign, settings: Settings, kind: str, address: str) -> dict[str, Any]:
    """One sample of ``kind`` to a staff address, as ``listonosz send --test-to`` sends them:
    rendered for the first person of the audience, marked [TEST], recorded nowhere."""
    try:
        address = normalise_email(address)
    except ValueError as exc:
        raise CampaignError(f"test_to {address!r}: {exc}") from None
    summary = "\n".join(send_samples(campaign, settings, address, [kind]))
    get_run_logger().info("Sample sent to %s: %s", address, summary)
    return {
        "summary": summary,
        "sent": 0,
        "nothing_to_send": True,
        "possible_duplicates": 0,
        "stopped": False,
        "stop_line": "",
    }


@contextmanager
def stop_when_cancelled(stop: Stop, every: float = 2.0) -> Iterator[None]:
    """While inside, a cancellation of this flow run in Prefect (UI, API) requests ``stop``.

    A worker's cancellation also arrives as SIGTERM; a run started from the CLI learns of a
    cancellation only by asking, every ``every`` seconds.
    """
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        yield
        return
    flow_run_id = context.flow_run.id
    done = threading.Event()

    def watch() -> None:
        with get_client(sync_client=True) as client:
            while not done.wait(every):
                try:
                    state = client.read_flow_run(flow_run_id).state
                except Exception:  # the API is busy or gone: ask again
                    continue
                if state is not None and (state.is_cancelling() or state.is_cancelled()):
                    stop.request(CANCELLED, "cancelled in Prefect")
                    return

    watcher = thread_in_this_context(watch, "cancel-watch")
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=every + 5)


def send_all(sender: BatchSender, ready: list[Ready], size: int, threads: int) -> list[BatchReport]:
    """One send-batch task per ``size`` messages, at most ``threads`` at a time; returns once
    every one of them has ended.

    The tasks get a thread pool of their own, sized per run from ``Settings.concurrency``: the
    flow's decorator is evaluated once, at import, before a run's settings are read.
    If anything goes wrong here, the batches still running are asked to stop and are waited
    for: the run's lease must not end while one of its threads still sends.
    """
    futures: list[PrefectFuture[BatchReport]] = []
    runner: ThreadPoolTaskRunner[BatchReport] = ThreadPoolTaskRunner(max_workers=threads)
    with runner:
        try:
            for number, start in enumerate(range(0, len(ready), size), 1):
                batch = _quoted(ready[start : start + size])
                arguments = {"sender": sender, "batch": batch, "number": number}
                futures.append(runner.submit(send_batch, arguments))
            wait(futures)
        except BaseException:
            sender.stop.request(CANCELLED, "the flow failed")
            wait(futures)
            raise
    return [future.result() for future in futures]


def send_on_workers(
    jobs: list[BatchJob],
    ledger: Ledger,
    campaign_id: str,
    coordinator: str,
    lease: dt.timedelta,
    stop: Stop,
    paused: Callable[[], bool],
    every: float = 1.0,
) -> list[BatchReport]:
    """Hand the jobs to the task workers (``listonosz worker``) and wait for them; a job whose
    worker stops beating is handed out again. Once ``stop`` is requested (or staff pause the
    campaign) this run's heartbeat ends, which tells the jobs to claim nothing more; the jobs
    still running are waited for, those not yet picked up will send nothing."""
    watch = JobWatch(ledger, campaign_id, lease, hand_out, outcome_of, stop, taken_at)
    watch.start(jobs)
    waited, told = 0.0, False
    logger = get_run_logger()
    while True:
        if not stop.requested and paused():
            stop.request(PAUSED)
        if stop.requested and not told:
            ledger.beat(coordinator, finished=True)
            told = True
        watch.poll()
        if watch.done:
            break
        time.sleep(every)
        waited += every
        if waited % 60 < every and watch.running() == 0:
            logger.warning(
                "%d batches wait for a worker: start one with `listonosz worker`",
                len(watch.pending),
            )
    if watch.abandoned:
        logger.warning(
            "%d batches lost their worker; handed out again after the lease", len(watch.abandoned)
        )
    # A job whose worker died reports nothing: what this run did is what the ledger holds.
    total = BatchReport()
    for batch in watch.reports:
        total.add(batch)
    counts, taken_over = ledger.tally_of_runs(campaign_id, jobs[0].kind, f"{coordinator}-")
    total.counts, total.possible_duplicates = counts, taken_over
    return [total]


@flow(name="send-campaign")
def send_campaign(
    campaign_path: CampaignFile,
    message: MessageKind = "invitation",
    batch_size: int | None = None,
    transport: str | None = None,
    check_links: bool = True,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    test_to: str = "",
    on_workers: bool = False,
) -> dict[str, Any] | State:
    """Send one message kind of a campaign to everyone in its audience who has not had it.

    Ctrl-C, SIGTERM, a cancellation in Prefect or ``listonosz pause`` stop it cleanly: nothing
    more is claimed, what is in flight is settled, and the run ends Cancelled with a line
    saying how many were sent and how many wait for the next run.

    Args:
        campaign_path: The campaign file, relative to the project directory; it must lie in
            the project's campaigns/ folder (anything else is refused before the run starts).
        message: The message kind to send, as declared in the campaign (e.g. invitation).
        batch_size: Recipients per task; the settings' batch_size when empty.
        transport: A transport named in listonosz.toml; the campaign's or the default when empty.
        check_links: Refuse to start unless the web app that the messages link to (public_url)
            answers over HTTPS; off only when it is hosted out of this machine's reach.
        now: The moment a scheduled message's audience is decided at (tests move the clock);
            the current time when empty.
        dry_run: Write the messages to var/dry-run as .eml files instead of sending them.
        test_to: An address (staff's own) to send only one sample of this message to, marked
            [TEST], to check it before the real send; nobody else gets anything, nothing is
            recorded. Empty for the real send.
        on_workers: Send the batches on task workers (`listonosz worker`, any number, on any
            machine with the project and a shared PostgreSQL ledger) instead of threads of
            this run.
    """
    settings = Settings()
    campaign = open_campaign(campaign_path, settings)
    campaign.message(message)  # an unknown kind fails here, naming the declared ones
    if dry_run:
        transport = "outbox"
    if transport:
        campaign = campaign.model_copy(update={"transport": transport})
    if test_to:
        return send_sample(campaign, settings, message, test_to)
    if check_links and settings.check_public_url:
        check_public_url(settings, campaign.transport)
    transport_settings = settings.transport_settings(campaign.transport)
    outbox = settings.outbox_path(transport_settings)
    stop = Stop()
    ledger_url = settings.ledger_url_for(transport_settings)
    holds = Holds(ledger_url)  # a provider's Retry-After reaches every worker of the store
    throttle = prefect_throttle(transport_settings)
    hold = holds.named(service_name(transport_settings))
    mailer = make_transport(transport_settings, outbox, throttle, stop, hold)
    ledger = Ledger(ledger_url)
    # Pauses live in the real ledger, which a dry run does not record into.
    control = (
        ledger
        if ledger_url == settings.resolved_ledger_url
        else Ledger(settings.resolved_ledger_url)
    )
    # people, dry run or not
    suppression = SuppressionList(settings.resolved_ledger_url, settings.signing_secret())
    # Refusals at send time are bounces: events and suppressions beside the ledger's rows.
    tracker = Tracker(ledger_url, settings.signing_secret())
    spool = Spool(settings.var_dir / "spool")
    try:
        with graceful_signals(stop), stop_when_cancelled(stop):
            merged = merge_contacts(campaign, settings, suppression, message)
            spec = campaign.message(message)
            if spec.audience is not None or spec.not_within is not None:  # only its rule's people
                with Participants(settings.resolved_ledger_url) as people:
                    state = read_state(control, people, campaign)
                moment = now or dt.datetime.now(dt.UTC)
                merged.contacts = audience_of(spec, merged.contacts, state, moment)
            factory = MessageFactory(campaign, message, settings)
            if control.paused(campaign.id, message) is not None:
                stop.request(PAUSED)  # nothing to prepare: the report says paused
            planned, ready = plan(factory, _quoted(merged), ledger, mailer, stop, spool)
            run_id = uuid.uuid4().hex
            lease = dt.timedelta(seconds=settings.lease_seconds)
            size = batch_size or settings.batch_size

            def paused() -> bool:
                return control.paused(campaign.id, message) is not None

            total = len(planned.recipients) if ready else 0
            key = f"{artifact_key(campaign.id, message)}-progress"
            with (
                ledger.lease(run_id, interval=settings.lease_seconds / 4),
                progress_shown(ledger, campaign.id, message, total, key),
            ):
                if on_workers and ready:
                    spool.close()  # checked; the workers render their batches again
                    jobs = make_jobs(
                        str(campaign_path),
                        message,
                        campaign.transport,
                        factory.now,
                        run_id,
                        planned.recipients,
                        size,
                    )
                    batches = send_on_workers(
                        jobs, ledger, campaign.id, run_id, lease, stop, paused
                    )
                else:
                    sender = BatchSender(
                        campaign.id,
                        message,
                        ledger,
                        mailer,
                        run_id,
                        lease,
                        tracker=tracker,
                        stop=stop,
                        paused=paused,
                    )
                    batches = send_all(sender, ready, size, settings.concurrency)
            outcome = report(_quoted(merged), _quoted(planned), batches, ledger, stop)
    finally:
        spool.close()
        mailer.close()
        holds.close()
        ledger.close()
        control.close()
        suppression.close()
        tracker.close()
    logger = get_run_logger()
    logger.info(
        "Sent %d, already settled %d", outcome.this_run.get("sent", 0), outcome.already_sent
    )
    result = {
        "summary": outcome.summary(),
        "sent": outcome.this_run.get("sent", 0),
        "nothing_to_send": outcome.nothing_to_send,
        "possible_duplicates": outcome.possible_duplicates_ever,
        "stopped": outcome.stopped,
        "stop_line": outcome.stop_line(),
    }
    if outcome.stopped:
        logger.warning("%s", outcome.stop_line())
        return Cancelled(message=outcome.stop_line(), data=result)
    return result
