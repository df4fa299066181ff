"""Where files may live, and files only their owner can read.

A campaign names files (contact lists, a templates folder) and may be chosen by someone who
cannot see the machine, from a Prefect form. So every such path is resolved (symlinks
followed) and must lie inside the project directory or a folder named in the ``allowed_dirs``
setting, and never inside ``var_dir`` (the ledger, the token secret). A refusal names the path
and what to do about it; it never shows what the file holds.

What Listonosz writes (the ledger, reports, .eml files) holds people's addresses: folders it
creates are ``0700`` and files ``0600``, whatever the process's umask.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from listonosz.errors import ListonoszError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


class PathError(ListonoszError, ValueError):
    """A path that lies where Listonosz may not read; the message names it."""


def within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it, both resolved (symlinks followed)."""
    return path.resolve().is_relative_to(folder.resolve())


def confine(
    path: Path,
    what: str,
    project: Path,
    allowed: Iterable[Path] = (),
    closed: Iterable[Path] = (),
) -> Path:
    """``path`` resolved, if it lies in ``project`` or an ``allowed`` folder and in no
    ``closed`` one; otherwise a :class:`PathError` naming it (``what``: e.g. "contact source").
    """
    resolved = path.resolve()
    shown = str(path) if str(path) == str(resolved) else f"{path} ({resolved})"
    for folder in closed:
        if within(resolved, folder):
            raise PathError(
                f"{what} {shown} lies inside {folder.resolve()}, where Listonosz keeps its "
                "ledger and secrets (var_dir); move it into the project"
            )
    allowed = list(allowed)
    if within(resolved, project) or any(within(resolved, folder) for folder in allowed):
        return resolved
    also = f" or in an allowed folder ({', '.join(map(str, allowed))})" if allowed else ""
    raise PathError(
        f"{what} {shown} lies outside the project directory {project.resolve()}{also}; "
        "move it into the project or add its folder to allowed_dirs (LISTONOSZ_ALLOWED_DIRS)"
    )


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents as ``0700`` folders; existing ones are kept
    as they are (a folder someone else chose may be shared on purpose)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            folder.mkdir(mode=PRIVATE_DIR)
            folder.chmod(PRIVATE_DIR)  # mkdir's mode is narrowed by the umask only
    return path


def private_opener(path: str | os.PathLike[str], flags: int) -> int:
    """An ``opener`` for :func:`open`: a new file is ``0600``, an existing one made so."""
    fd = os.open(path, flags, PRIVATE_FILE)
    with contextlib.suppress(OSError):  # not ours to change: leave it as it is
        os.fchmod(fd, PRIVATE_FILE)
    return fd


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a ``0600`` file."""
    with open(path, "wb", opener=private_opener) as handle:
        handle.write(data)


def private_sqlite(url: str) -> None:
    """Before SQLAlchemy opens a SQLite URL: its folder exists (``0700`` when made here) and
    its file is ``0600``. SQLite gives the ``-wal`` and ``-shm`` files the database's mode."""
    if not url.startswith("sqlite:///"):
        return
    name = url.removeprefix("sqlite:///").split("?", 1)[0]
    if not name or name == ":memory:":
        return
    path = Path(name)
    private_dir(path.parent)
    os.close(private_opener(path, os.O_RDWR | os.O_CREAT))
    for journal in (Path(f"{path}-wal"), Path(f"{path}-shm")):  # left by an older version
        with contextlib.suppress(OSError):
            journal.chmod(PRIVATE_FILE)
