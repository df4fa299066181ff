"""``listonosz person …``: one person's data, for their GDPR requests (access and erasure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from listonosz.cli.common import fail
from listonosz.errors import ListonoszError

person_app = typer.Typer(
    help="One person's data: export it (right of access) or erase it (right to erasure).",
    no_args_is_help=True,
)


@person_app.command()
def export(
    email: Annotated[str, typer.Argument(help="The person's e-mail address.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the JSON here (default: standard output).")
    ] = None,
) -> None:
    """Everything held about a person (list rows and sources, legal basis, deliveries,
    events, answers, suppression) as JSON."""
    from listonosz.config import Settings
    from listonosz.people import export_person

    try:
        data = export_person(Settings(), email)
    except ListonoszError as exc:
        raise fail(str(exc)) from None
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
        out.chmod(0o600)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"Wrote {out}.", err=True)


@person_app.command()
def erase(
    email: Annotated[str, typer.Argument(help="The person's e-mail address.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a person's address and data from the store; a keyed hash stays on the
    suppression list so they are never written to again. Lists the files still holding them."""
    from listonosz.config import Settings
    from listonosz.people import erase_person

    if not yes:
        typer.confirm("Erase this person's data from the store? This cannot be undone", abort=True)
    try:
        erasure = erase_person(Settings(), email)
    except ListonoszError as exc:
        raise fail(str(exc)) from None
    gone = erasure.erased
    typer.echo(
        f"Erased: {gone.deliveries} deliveries, {gone.events} events, "
        f"{gone.participants} answers; kept on the suppression list as {gone.key[:12]}… only."
    )
    if erasure.contact_rows:
        typer.echo("Contact lists that still hold this person (edit them):")
        for row in erasure.contact_rows:
            typer.echo(f"  {row}")
    if erasure.other_files:
        typer.echo("Files under var/ that still mention the address (delete or edit them):")
        for path in erasure.other_files:
            typer.echo(f"  {path}")
