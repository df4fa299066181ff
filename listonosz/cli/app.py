"""``listonosz …``: the commands staff run.

Sending goes through the Prefect flow (so every run is recorded and observable); quick local
jobs call the core directly.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from listonosz.campaign import Campaign
from listonosz.cli.attendance import attendance_app
from listonosz.cli.bounces import bounces_app
from listonosz.cli.common import fail
from listonosz.cli.contacts import contacts_app, suppress_app
from listonosz.cli.db import db_app
from listonosz.cli.followups import followups_app
from listonosz.cli.person import person_app
from listonosz.cli.preview import preview
from listonosz.config import Settings
from listonosz.errors import ListonoszError
from listonosz.store import ALL_KINDS, Ledger

app = typer.Typer(
    help="Listonosz: invitations and newsletters for events, sent exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(contacts_app, name="contacts")
app.add_typer(suppress_app, name="suppress")
app.add_typer(db_app, name="db")
app.add_typer(attendance_app, name="attendance")
app.add_typer(followups_app, name="followups")
app.add_typer(person_app, name="person")
app.add_typer(bounces_app, name="bounces")
app.command("preview")(preview)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on.")] = 8000,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(help="Reverse proxies whose X-Forwarded-* headers are trusted."),
    ] = "127.0.0.1",
) -> None:
    """Serve the pages recipients reach from their messages: RSVP and unsubscribe."""
    from listonosz.web import serve as serve_web

    try:
        settings = Settings()
        settings.signing_secret()
    except (ListonoszError, OSError, ValueError) as exc:
        raise fail(str(exc)) from None
    serve_web(settings, host, port, forwarded_allow_ips)


@app.command()
def send(
    campaign: Annotated[Path, typer.Argument(help="The campaign file, e.g. campaigns/x.yaml.")],
    message: Annotated[
        str, typer.Option(help="Which message kind of the campaign.")
    ] = "invitation",
    batch_size: Annotated[int | None, typer.Option(min=1, help="Recipients per task.")] = None,
    transport: Annotated[
        str | None, typer.Option(help="A transport named in listonosz.toml.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write .eml files to var/dry-run; send nothing.")
    ] = False,
    test_to: Annotated[
        str | None,
        typer.Option(help="Send one sample of every message kind to this staff address only."),
    ] = None,
    link_check: Annotated[
        bool,
        typer.Option(
            "--link-check/--no-link-check",
            help="Refuse to send unless public_url answers over HTTPS (the messages' RSVP and "
            "unsubscribe links); --no-link-check when the web app is hosted out of reach.",
        ),
    ] = True,
    on_workers: Annotated[
        bool,
        typer.Option(
            "--on-workers",
            help="Send the batches on task workers (`listonosz worker`, on this or other "
            "machines) through the Prefect server in PREFECT_API_URL, with a shared ledger.",
        ),
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="A progress bar on a terminal.")
    ] = True,
) -> None:
    """Send one message kind to everyone in the audience who has not had it yet."""
    from listonosz.campaign import open_campaign
    from listonosz.sending import check_public_url

    try:
        settings = Settings()
        spec = open_campaign(campaign, settings)  # fail fast, before Prefect starts
        spec.message(message)
        if test_to:
            _send_samples(spec, transport, test_to)
            return
        if link_check and settings.check_public_url and not dry_run:
            check_public_url(settings, transport or spec.transport)
    except ListonoszError as exc:
        raise fail(str(exc)) from None

    from flows.local_server import PREFECT_API_URL, prefect_api, quiet_local_prefect

    if on_workers and not PREFECT_API_URL.value():
        raise fail(
            "--on-workers needs a Prefect server that the workers reach too: set PREFECT_API_URL "
            "(see README, Running at scale)"
        )
    quiet_local_prefect()
    from flows.campaign import send_campaign

    previous = signal.signal(signal.SIGTERM, _interrupt)  # until the flow takes signals itself
    try:
        with prefect_api(), progress_bar(progress and sys.stderr.isatty()):
            state = send_campaign(
                str(campaign),
                message,
                batch_size,
                "outbox" if dry_run else transport,
                link_check,
                on_workers=on_workers,
                return_state=True,
            )
            # The flow's dict: returned, or the data of the Cancelled state a stopped run ends in.
            outcome = state.result(raise_on_failure=not state.is_cancelled())
            result = cast("dict[str, Any]", outcome)
    except ListonoszError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        typer.secho("stopped before sending began", err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(code=EXIT_STOPPED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo(result["summary"])
    if result.get("stopped"):
        typer.secho(result["stop_line"], err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(code=EXIT_STOPPED)


#: The exit code of a send that stopped before the end (a signal, a cancellation, a pause).
EXIT_STOPPED = 3


@contextmanager
def progress_bar(shown: bool) -> Iterator[None]:
    """While inside, a send's progress (sent / total, rate, time left) on stderr."""
    if not shown:
        yield
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from flows.progress import listeners

    bar = Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        transient=True,
    )
    task_id = bar.add_task("send", total=None, rate="")
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-9)
        bar.update(task_id, completed=done, total=total, rate=f"{rate:,.0f} msg/s")

    listeners.append(show)
    try:
        with bar:
            yield
    finally:
        listeners.remove(show)


@app.command()
def worker(
    limit: Annotated[
        int, typer.Option(min=1, max=64, help="Batches this worker sends at a time.")
    ] = 4,
) -> None:
    """Send batches of campaigns started with `listonosz send --on-workers` (or the
    deployment's on_workers), until Ctrl-C or SIGTERM: running batches settle what they
    hold first. Needs PREFECT_API_URL and the same settings as the run (ledger URL, secret)."""
    from flows.local_server import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise fail("a worker needs PREFECT_API_URL: the Prefect server the runs are started on")
    try:
        Settings().signing_secret()
    except (ListonoszError, OSError, ValueError) as exc:
        raise fail(str(exc)) from None
    from flows.workers import serve_jobs

    typer.echo(f"Listonosz worker: up to {limit} batches at a time; Ctrl-C to stop.")
    serve_jobs(limit)


def _interrupt(_signum: int, _frame: object) -> None:
    """SIGTERM before the flow runs: unwind like Ctrl-C, so the temporary server stops too."""
    raise KeyboardInterrupt


@app.command()
def pause(
    campaign: Annotated[Path, typer.Argument(help="The campaign file.")],
    message: Annotated[
        str | None, typer.Option(help="Pause only this message kind; all kinds when left out.")
    ] = None,
) -> None:
    """Pause a campaign: running sends stop within seconds, and no run sends until resumed."""
    spec, ledger = _control(campaign, message)
    try:
        fresh = ledger.pause(spec.id, message or ALL_KINDS)
    finally:
        ledger.close()
    what = f"message {message!r} of campaign {spec.id}" if message else f"campaign {spec.id}"
    typer.echo(f"Paused {what}." if fresh else f"{what[0].upper()}{what[1:]} was already paused.")
    typer.echo("Runs stop within seconds without sending twice; `listonosz resume` lifts it.")


@app.command()
def resume(
    campaign: Annotated[Path, typer.Argument(help="The campaign file.")],
    message: Annotated[
        str | None, typer.Option(help="The message kind paused on its own, if it was.")
    ] = None,
) -> None:
    """Lift a pause; then run `listonosz send` again to send what is still waiting."""
    spec, ledger = _control(campaign, message)
    try:
        lifted = ledger.resume(spec.id, message or ALL_KINDS)
        still = ledger.paused(spec.id, message) if message else None
    finally:
        ledger.close()
    what = f"message {message!r} of campaign {spec.id}" if message else f"campaign {spec.id}"
    if not lifted:
        typer.echo(f"{what[0].upper()}{what[1:]} was not paused.")
    else:
        typer.echo(f"Resumed {what}; run `listonosz send` to send what is waiting.")
    if still:
        typer.echo(f"Campaign {spec.id} as a whole is still paused: resume it without --message.")


def _control(campaign: Path, message: str | None) -> tuple[Campaign, Ledger]:
    """The campaign (checked) and the real ledger, where pauses are kept."""
    from listonosz.campaign import load_campaign

    try:
        spec = load_campaign(campaign)
        if message:
            spec.message(message)
        return spec, Ledger(Settings().resolved_ledger_url)
    except ListonoszError as exc:  # a bad campaign, or a store that needs `db upgrade`
        raise fail(str(exc)) from None


def _send_samples(campaign: Campaign, transport_name: str | None, address: str) -> None:
    from listonosz.contacts.normalise import normalise_email
    from listonosz.sending import send_samples

    try:
        address = normalise_email(address)
    except ValueError as exc:
        raise fail(f"--test-to {address!r}: {exc}") from None
    if transport_name:
        campaign = campaign.model_copy(update={"transport": transport_name})
    typer.echo("\n".join(send_samples(campaign, Settings(), address)))


@app.command()
def report(
    campaign: Annotated[Path, typer.Argument(help="The campaign file.")],
    message: Annotated[str, typer.Option(help="Which message kind.")] = "invitation",
    by: Annotated[
        str, typer.Option(help="What happened after sending, per `group` or mail `provider`.")
    ] = "group",
    xlsx: Annotated[
        Path | None, typer.Option(help="Also write both tables (groups, providers) here.")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Also draw delivered/bounced/complaints as a PNG.")
    ] = None,
) -> None:
    """Show what the ledger holds for one message kind, per stakeholder group, and what
    happened to the messages after sending (deliveries, bounces, complaints, unsubscribes,
    answers) per group or mailbox provider."""
    from listonosz.campaign import open_campaign
    from listonosz.contacts.groups import group_label
    from listonosz.store import DEFERRED, FAILED, SENDING, SENT

    settings = Settings()
    try:
        spec = open_campaign(campaign, settings)
        spec.message(message)
        ledger = Ledger(settings.resolved_ledger_url)  # the real ledger, not a dry run's
    except ListonoszError as exc:
        raise fail(str(exc)) from None
    try:
        groups = ledger.group_counts(spec.id, message)
        totals = ledger.status_counts(spec.id, message)
        paused = ledger.paused(spec.id, message)
    finally:
        ledger.close()
    if paused:
        typer.echo(f"paused since {paused:%Y-%m-%d %H:%M} UTC (`listonosz resume` lifts it)")
    statuses = (SENT, FAILED, DEFERRED, SENDING)
    typer.echo(f"{'group':<45}" + "".join(f"{s:>10}" for s in statuses))
    for code in sorted(groups):
        counts = groups[code]
        typer.echo(f"{group_label(code):<45}" + "".join(f"{counts[s]:>10}" for s in statuses))
    typer.echo(f"{'all recipients':<45}" + "".join(f"{totals[s]:>10}" for s in statuses))
    _tracking_report(settings, spec, message, by, xlsx, chart)


def _tracking_report(
    settings: Settings,
    campaign: Campaign,
    message: str,
    by: str,
    xlsx: Path | None,
    chart: Path | None,
) -> None:
    """The after-sending table on screen, and the workbook and chart when asked for."""
    from listonosz.reports import delivery_frame, for_staff, summary, write_chart, write_xlsx

    if by not in ("group", "provider"):
        raise fail(f"--by must be group or provider, not {by!r}")
    own = frozenset({campaign.sender.domain})
    with Ledger(settings.resolved_ledger_url) as store:
        frame = delivery_frame(store.engine, campaign.id, message, own)
    tables = {"group": summary(frame, "group"), "provider": summary(frame, "provider")}
    typer.echo("")
    typer.echo(for_staff(tables[by]).to_string())
    flag = str(tables[by].at["Razem", "complaint_flag"])
    if flag != "w normie":
        typer.secho(f"complaint rate: {flag}", err=True, fg=typer.colors.YELLOW)
    try:
        if xlsx is not None:
            write_xlsx(
                {
                    "Grupy": for_staff(tables["group"]),
                    "Dostawcy poczty": for_staff(tables["provider"]),
                },
                xlsx,
            )
            typer.echo(f"Wrote {xlsx}.")
        if chart is not None:
            per = "grup" if by == "group" else "dostawców poczty"
            title = f"{campaign.event.title}: {message}, według {per}"
            write_chart(tables[by], title, chart)
            typer.echo(f"Wrote {chart}.")
    except OSError as exc:
        raise fail(f"cannot write: {exc}") from None


@app.command("capture-server")
def capture_server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8025,
    outbox: Annotated[Path | None, typer.Option(help="Where .eml files go.")] = None,
) -> None:
    """Run a local SMTP server that stores every message as an .eml file (nothing is relayed)."""
    from listonosz.transports.capture import start_capture_server

    outbox = outbox or Settings().outbox_dir
    try:
        controller = start_capture_server(outbox, host, port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    typer.echo(f"Capture server listening on {host}:{port}; messages go to {outbox}/")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    typer.echo("Capture server stopped.")
