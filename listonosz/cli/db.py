"""``listonosz db …``: the store's schema (SQLite upgrades itself; PostgreSQL is upgraded here)."""

from __future__ import annotations

from typing import Annotated

import typer

from listonosz.errors import ListonoszError

db_app = typer.Typer(help="The store's database: its schema migrations.", no_args_is_help=True)


@db_app.command()
def upgrade(
    url: Annotated[
        str | None,
        typer.Option(help="The store's SQLAlchemy URL; the ledger_url setting when left out."),
    ] = None,
) -> None:
    """Bring the store's tables up to this release (a database 0.1 created keeps its rows)."""
    from sqlalchemy.exc import SQLAlchemyError

    from listonosz.config import Settings
    from listonosz.store import shown, upgrade_store

    url = url or Settings().resolved_ledger_url
    try:
        before, after = upgrade_store(url)
    except (ListonoszError, SQLAlchemyError) as exc:
        reason = getattr(exc, "orig", None) or exc  # the driver's words, without SQLAlchemy's
        message = f"error: cannot upgrade the store at {shown(url)}: {reason}"
        typer.secho(message, err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from None
    if before == after:
        typer.echo(f"The store at {shown(url)} is already at revision {after}.")
    else:
        start = before or "nothing (an empty database, or one 0.1 made)"
        typer.echo(f"Upgraded the store at {shown(url)} from {start} to {after}.")
