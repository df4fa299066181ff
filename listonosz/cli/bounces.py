"""``listonosz bounces …``: read the bounce mailbox now, or classify message files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from listonosz.cli.common import fail
from listonosz.config import Settings
from listonosz.errors import ListonoszError

bounces_app = typer.Typer(
    help="The bounce mailbox: bounces, complaints and auto-replies to the VERP address.",
    no_args_is_help=True,
)


@bounces_app.command()
def fetch() -> None:
    """Read the bounce mailbox once (as the collect-bounces flow does every 10 minutes):
    record every report, move it to Processed, or to Unrecognised if it is none."""
    from listonosz.tracking import read_bounce_mailbox

    try:
        collected = read_bounce_mailbox(Settings())
    except (ListonoszError, OSError) as exc:
        raise fail(str(exc)) from None
    typer.echo(collected.summary())


@bounces_app.command()
def scan(
    files: Annotated[list[Path], typer.Argument(help="Message files (.eml, Maildir files).")],
) -> None:
    """Classify message files without touching the store or the mailbox: one JSON object a
    line with file, kind (hard, soft, delayed, expired, block, complaint, autoreply, unknown),
    recipients, status, diagnostic, delivery_key (signed by the VERP address, or the report's
    envelope id) and confidence."""
    from listonosz.tracking import classify

    secret = _existing_secret(Settings())
    unreadable = 0
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            typer.secho(f"error: cannot read {path}: {exc.strerror}", err=True, fg="red")
            unreadable += 1
            continue
        found = classify(raw, secret)
        line = {
            "file": str(path),
            "kind": found.kind,
            "recipients": found.recipients,
            "status": found.status,
            "diagnostic": found.diagnostic,
            "delivery_key": found.delivery_key,
            "signed": found.signed,
            "confidence": found.confidence,
        }
        typer.echo(json.dumps(line, ensure_ascii=False))
    if unreadable:
        raise typer.Exit(code=2)


def _existing_secret(settings: Settings) -> bytes | None:
    """The installation secret if there is one (a scan never creates it): it checks VERP."""
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value().encode()
    path = settings.var_dir / "token_secret"
    try:
        return path.read_text().strip().encode()
    except OSError:
        return None
