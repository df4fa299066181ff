"""``listonosz attendance …``: the registration desk's link, and closing attendance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from listonosz.cli.common import fail
from listonosz.errors import ListonoszError

attendance_app = typer.Typer(
    help="Who came: the check-in page's link, importing the signed list, closing attendance.",
    no_args_is_help=True,
)

CampaignFile = Annotated[Path, typer.Argument(help="The campaign file, e.g. campaigns/x.yaml.")]


@attendance_app.command()
def link(campaign: CampaignFile) -> None:
    """Print the secret link of the campaign's check-in page (for the registration desk)."""
    from listonosz.campaign import open_campaign
    from listonosz.config import Settings
    from listonosz.mail import checkin_url

    try:
        settings = Settings()
        spec = open_campaign(campaign, settings)
        typer.echo(checkin_url(settings.public_url, settings.signing_secret(), spec.id))
    except ListonoszError as exc:
        raise fail(str(exc)) from None


@attendance_app.command("import")
def import_(
    campaign: CampaignFile,
    file: Annotated[Path, typer.Argument(help="The signed attendance list (CSV, XLSX, ODS).")],
) -> None:
    """Mark the people on the signed list present: matched by address, else by name and
    organisation; rows that match nobody, or several people, are listed, never guessed."""
    from listonosz.campaign import open_campaign
    from listonosz.config import Settings
    from listonosz.lifecycle import match_attendance, read_signed_list
    from listonosz.sending import merge_audience
    from listonosz.store import Participants

    try:
        settings = Settings()
        spec = open_campaign(campaign, settings)
        rows = read_signed_list(file, file.name)
        matched = match_attendance(rows, merge_audience(spec).contacts)
        with Participants(settings.resolved_ledger_url) as people:
            if people.attendance_closed(spec.id) is not None:
                raise fail(f"attendance of {spec.id} is closed; nothing imported")
            now = dt.datetime.now(dt.UTC)
            for email in matched.present:
                people.attend(spec.id, email, "attended", "import", now)
    except (ListonoszError, ValueError) as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"{len(matched.present)} marked present from {len(rows)} rows"
        f" ({matched.not_present} listed but not signed)."
    )
    for line in matched.ambiguous:
        typer.secho(f"ambiguous: {line}", err=True, fg=typer.colors.YELLOW)
    for line in matched.unmatched:
        typer.secho(f"unmatched: {line}", err=True, fg=typer.colors.YELLOW)


@attendance_app.command()
def close(campaign: CampaignFile) -> None:
    """Declare attendance final: yes-people not marked present count as absent, and the
    follow-ups that wait for attendance (thank-you, we-missed-you) may go."""
    from flows.followups import announce_attendance_closed
    from listonosz.campaign import open_campaign
    from listonosz.config import Settings
    from listonosz.store import Participants

    try:
        settings = Settings()
        spec = open_campaign(campaign, settings)
        with Participants(settings.resolved_ledger_url) as people:
            closed = people.close_attendance(spec.id, "staff", dt.datetime.now(dt.UTC))
    except ListonoszError as exc:
        raise fail(str(exc)) from None
    if not closed:
        typer.echo(f"Attendance of {spec.id} was already closed.")
        return
    typer.echo(f"Attendance of {spec.id} is closed.")
    if announce_attendance_closed(spec.id):
        typer.echo("The follow-ups that waited for it run now (Prefect event sent).")
