"""What every ``listonosz`` command shares: how an error is shown and the exit code it gives."""

from __future__ import annotations

import typer


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` in red on stderr; raise the returned Exit (code 2)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)
