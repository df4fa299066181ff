"""The ``listonosz`` command (Typer): the one layer of the core that may call Prefect flows."""

from listonosz.cli.app import app

__all__ = ["app"]
