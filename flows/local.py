"""Prefect's temporary local server, as the command line starts it: its database kept private.

Without a Prefect server configured, a run starts a temporary one on Prefect's own SQLite
database in ``PREFECT_HOME`` (``~/.prefect``). That database keeps every run's artifacts, the
contacts report among them, so it holds people's addresses: like ``var/``, it is made
readable by its owner only.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from listonosz.paths import PRIVATE_DIR, PRIVATE_FILE, private_dir, write_private


def private_prefect_home() -> None:
    """Make Prefect's home ``0700`` and its SQLite database ``0600``, when the run is to use
    the temporary local server (no ``PREFECT_API_URL``) and they belong to this user."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url:
        return  # a server of its own: its database is someone else's to look after
    home = Path(settings.home)
    private_dir(home)
    _tighten(home, PRIVATE_DIR)
    url = settings.server.database.connection_url
    text = url.get_secret_value() if url is not None else ""
    scheme, _, rest = text.partition(":///")
    if scheme.startswith("sqlite") and rest and rest != ":memory:":
        database = Path(rest.split("?", 1)[0])
        if not database.exists():  # an empty file is an empty database: SQLite keeps its mode
            private_dir(database.parent)
            write_private(database, b"")
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            _tighten(path, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    """chmod ``path`` if it exists and is ours; anything else is left alone."""
    with contextlib.suppress(OSError):
        if path.stat().st_uid == os.getuid():
            path.chmod(mode)
