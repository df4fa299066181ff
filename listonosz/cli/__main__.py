"""``python -m listonosz.cli``: the ``listonosz`` command."""

from listonosz.cli.app import app

app()
