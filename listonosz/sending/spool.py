"""Prepared messages wait on disk, not in memory: a campaign's memory stays flat in its size.

A prepared message is about 8 KB once packed; a hundred thousand of them held in a list took
most of a 1.4 GB process. The spool appends them to one anonymous temporary file (removed by
the system as soon as it is closed, even after a kill -9) and hands back where each one lies;
sending threads read them back by position, which needs no lock. What is read often stays in
the page cache, which the kernel gives back under pressure.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from types import TracebackType


class Spool:
    """An append-only file of packed messages, read back by ``(offset, size)``.

    ``directory``: where the file lies (``var/spool`` for a run); the system's temporary
    folder when None. Safe to use from several threads.
    """

    def __init__(self, directory: Path | None = None) -> None:
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._file = tempfile.TemporaryFile(dir=directory, prefix="spool-")  # noqa: SIM115 (closed by close())
        self._fd = self._file.fileno()
        self._end = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._end

    def add(self, packed: bytes) -> int:
        """Append one packed message; returns its offset."""
        with self._lock:
            offset = self._end
            self._end += len(packed)
        view = memoryview(packed)
        written = 0
        while written < len(view):  # pwrite may write less than asked
            written += os.pwrite(self._fd, view[written:], offset + written)
        return offset

    def read(self, offset: int, size: int) -> bytes:
        """The bytes one :meth:`add` wrote at ``offset``."""
        data = os.pread(self._fd, size, offset)
        if len(data) != size:
            raise OSError(f"spool: {size} bytes expected at {offset}, {len(data)} found")
        return data

    def close(self) -> None:
        """Let go of the file (the system removes it)."""
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
