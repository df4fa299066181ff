"""``listonosz followups …``: what the schedule will send, and sending it now."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from listonosz.cli.common import fail
from listonosz.errors import ListonoszError

followups_app = typer.Typer(
    help="Scheduled messages (reminders, thank-yous): what is due, and sending it.",
    no_args_is_help=True,
)


def _moment(now: str | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(now)
    except ValueError:
        raise fail(f"--now {now!r} is not an ISO date and time (2016-09-05T09:00+02:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


NowOption = Annotated[
    str | None,
    typer.Option(help="Decide as if it were this moment (ISO 8601); now when left out."),
]
CampaignArgument = Annotated[
    str | None, typer.Argument(help="A campaign id; every campaign in campaigns/ when left out.")
]


@followups_app.command()
def due(campaign: CampaignArgument = None, now: NowOption = None) -> None:
    """List every scheduled message: not yet due, waiting for attendance, due, or missed."""
    from flows.followups import due_follow_ups
    from listonosz.config import Settings

    try:
        items = due_follow_ups(Settings(), campaign, _moment(now))
    except ListonoszError as exc:
        raise fail(str(exc)) from None
    if not items:
        typer.echo("No scheduled messages.")
    for item in items:
        when = item.due_at.isoformat(timespec="minutes")
        line = f"{item.campaign.id}/{item.kind}: {item.state}, due {when}"
        if item.state in ("due", "missed"):
            line += f", {len(item.recipients)} people"
        if item.reason:
            line += f" ({item.reason})"
        typer.echo(line)


@followups_app.command()
def run(
    campaign: CampaignArgument = None,
    now: NowOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write .eml files to var/dry-run; send nothing.")
    ] = False,
) -> None:
    """Send every follow-up due now (through the follow-ups flow, exactly once each)."""
    from flows.local_server import prefect_api, quiet_local_prefect

    quiet_local_prefect()
    from flows.followups import run_follow_ups

    moment = _moment(now)
    try:
        with prefect_api():
            result = run_follow_ups(campaign, moment, dry_run)
    except ListonoszError as exc:
        raise fail(str(exc)) from None
    for name, count in result["sent"].items():
        typer.echo(f"{name}: sent {count}")
    for line in result["missed"]:
        typer.secho(f"missed {line}", err=True, fg=typer.colors.YELLOW)
    if not result["sent"] and not result["missed"]:
        typer.echo("Nothing due.")
