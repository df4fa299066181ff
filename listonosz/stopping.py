"""Stopping a run cleanly: a stop request shared by its threads, and what signals do to it.

A run that is asked to stop (Ctrl-C, SIGTERM, a Prefect cancellation, a pause) claims nothing
more; each sending thread settles the chunk it holds and returns, so nothing is left in flight
and a rerun sends every message exactly once. A second Ctrl-C or SIGTERM stops the process at
once: registered clean-ups (a temporary Prefect server) run, and rows still claimed are left to
the lease, as after a crash.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import NoReturn

#: What makes a run stop, as the summary and the report name it.
SIGNALLED, CANCELLED, PAUSED = "signal", "cancelled", "paused"


class Stopped(Exception):
    """Raised in a sending thread when its run was asked to stop: send nothing more."""


class Stop:
    """A run's stop request: set once, from any thread or a signal handler, read by all."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""  # SIGNALLED, CANCELLED or PAUSED
        self.detail = ""  # e.g. the signal's name

    def request(self, reason: str, detail: str = "") -> None:
        """Ask the run to stop; the first reason given is kept."""
        if not self._event.is_set():
            self.reason, self.detail = reason, detail
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested (or ``timeout`` passes); whether it was."""
        return self._event.wait(timeout)

    def check(self) -> None:
        """Raise :class:`Stopped` if a stop was requested (run before each message leaves)."""
        if self._event.is_set():
            raise Stopped(self.reason)

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that a stop request cuts short, raising :class:`Stopped`."""
        if self._event.wait(seconds):
            raise Stopped(self.reason)


_cleanups: list[Callable[[], None]] = []


@contextlib.contextmanager
def before_hard_stop(cleanup: Callable[[], None]) -> Iterator[None]:
    """While inside, :func:`hard_stop` runs ``cleanup`` first (e.g. to stop a child server)."""
    _cleanups.append(cleanup)
    try:
        yield
    finally:
        _cleanups.remove(cleanup)


def hard_stop(code: int) -> NoReturn:
    """Run the registered clean-ups, then end the process at once, threads and all."""
    for cleanup in reversed(_cleanups):
        with contextlib.suppress(Exception):
            cleanup()
    os._exit(code)


@contextlib.contextmanager
def graceful_signals(stop: Stop, say: Callable[[str], None] | None = None) -> Iterator[None]:
    """While inside: the first SIGINT or SIGTERM requests ``stop``, a second one stops at once.

    Only the main thread can take signals; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    seen: list[int] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        seen.append(signum)
        if len(seen) > 1:
            hard_stop(128 + signum)
        stop.request(SIGNALLED, name)
        (say or to_stderr)(
            f"{name}: stopping. Messages already handed to the server are settled; nothing new "
            "is sent. Send the signal again to stop at once."
        )

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def to_stderr(text: str) -> None:
    """Write straight to stderr: a signal handler must not wait for a lock a thread holds."""
    with contextlib.suppress(OSError):
        os.write(sys.stderr.fileno(), f"{text}\n".encode())
