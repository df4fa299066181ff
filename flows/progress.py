"""How far a send is: a progress artifact in the Prefect UI, and the CLI's progress bar.

Progress is read from the ledger (rows of the message kind settled since the run began), so
it counts what every worker did, wherever it runs. ``listeners`` are called with
``(done, total)`` at each look; the CLI adds one to draw its bar.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import cast

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from listonosz.store import SETTLED, Ledger

#: Called with ``(done, total)`` every few seconds while a send runs in this process.
listeners: list[Callable[[int, int], None]] = []


def settled(ledger: Ledger, campaign: str, kind: str) -> int:
    """Rows of this message kind sent or failed for good, by any run."""
    counts = ledger.status_counts(campaign, kind)
    return sum(counts.get(status, 0) for status in SETTLED)


def thread_in_this_context(target: Callable[[], None], name: str) -> threading.Thread:
    """A daemon thread, started, that runs ``target`` in a copy of this thread's context:
    Prefect's, which says where its API is (as the task runner's threads have it)."""
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(target,), name=name, daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def progress_shown(
    ledger: Ledger, campaign: str, kind: str, total: int, key: str, every: float = 2.0
) -> Iterator[None]:
    """While inside, every ``every`` seconds: update the run's progress artifact (``key``) and
    tell the listeners. Nothing is shown for a run with nothing to send."""
    if total <= 0:
        yield
        return
    before = settled(ledger, campaign, kind)
    artifact = cast(
        uuid.UUID,
        create_progress_artifact(
            0.0, key=key, description=f"{campaign}, {kind}: 0 of {total:,} settled"
        ),
    )
    done_event = threading.Event()

    def look() -> None:
        done = min(total, settled(ledger, campaign, kind) - before)
        description = f"{campaign}, {kind}: {done:,} of {total:,} settled"
        with contextlib.suppress(Exception):  # a busy API only delays the next update
            update_progress_artifact(artifact, 100.0 * done / total, description)
        for listener in listeners:
            listener(done, total)

    def keep_looking() -> None:
        while not done_event.wait(every):
            with contextlib.suppress(Exception):
                look()

    thread = thread_in_this_context(keep_looking, "progress")
    try:
        yield
    finally:
        done_event.set()
        thread.join()
        with contextlib.suppress(Exception):
            look()
