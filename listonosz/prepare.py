"""Render and assemble every recipient's message once, before the first one is claimed.

This is the campaign's preflight and its only render. A template that fails for anyone fails
the whole preparation with :class:`PreflightError`, which lists every recipient it hits, and
nothing is claimed or sent. Otherwise each message is kept, compressed, in the form its
transport takes (MIME bytes, signed when DKIM is on, or the parts HTTP APIs take), so sending
is only claim, send and settle.

Large audiences are prepared in worker processes, one per core: rendering then uses every
core, and the sending threads never compete with it for the interpreter lock. A worker is a
fresh interpreter (``serve``) fed over a pipe, never a fork: the flow's process has threads.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

import lz4.frame

from listonosz.contacts.model import Contact
from listonosz.pipeline import MessageFactory
from listonosz.render.diagnostics import RenderError, RenderFailure
from listonosz.render.preflight import CROSS_CHECKED, PreflightError, cross_check
from listonosz.transports.base import Outgoing

#: From this many recipients on, worker processes pay for their start-up (about a second).
PARALLEL_FROM = 2_000
PROTOCOL = pickle.HIGHEST_PROTOCOL


@dataclass(frozen=True, slots=True)
class Ready:
    """One recipient's message, prepared: its ledger row and its packed ``Outgoing``."""

    key: str
    email: str
    groups: str
    message_id: str
    packed: bytes

    def outgoing(self) -> Outgoing:
        """The message as its transport takes it."""
        message: Outgoing = pickle.loads(lz4.frame.decompress(self.packed))
        return message


def ready_message(factory: MessageFactory, contact: Contact, mime: bool) -> Ready:
    """Render, address and assemble one recipient's message; RenderError if it cannot be."""
    prepared = factory.prepare(contact)
    outgoing = factory.outgoing(prepared, factory.now, mime)
    packed = lz4.frame.compress(pickle.dumps(outgoing, PROTOCOL))
    return Ready(
        prepared.key, prepared.email, prepared.groups, prepared.personal.message_id, packed
    )


def prepare_messages(
    factory: MessageFactory,
    recipients: Sequence[Contact],
    mime: bool,
    workers: int | None = None,
) -> list[Ready]:
    """Every recipient's message, in order; :class:`PreflightError` lists every failure.

    ``workers``: processes to render in; by default one per core from :data:`PARALLEL_FROM`
    recipients on, none below. A few recipients are also rendered with premailer run per
    message, to prove the template compiled once gives identical bytes.
    """
    if workers is None:
        workers = (os.cpu_count() or 1) if len(recipients) >= PARALLEL_FROM else 1
    processes = _start_workers(min(workers, len(recipients))) if workers > 1 else []
    try:
        # While the workers start up, check the sample against premailer run per message.
        failures = cross_check(factory.renderer, recipients[:CROSS_CHECKED], factory.links)
        if processes:
            results = _in_workers(processes, factory, recipients, mime)
        else:
            results = [_prepare_chunk(factory, recipients, mime)]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
    ready: list[Ready] = []
    for chunk_ready, chunk_failures in results:
        ready.extend(chunk_ready)
        failures.extend(chunk_failures)
    if failures:
        raise PreflightError(factory.kind, failures, len(recipients))
    return ready


def _prepare_chunk(
    factory: MessageFactory, contacts: Sequence[Contact], mime: bool
) -> tuple[list[Ready], list[RenderFailure]]:
    ready, failures = [], []
    for contact in contacts:
        try:
            ready.append(ready_message(factory, contact, mime))
        except RenderError as exc:
            failures.append(exc.failure)
    return ready, failures


def _start_workers(count: int) -> list[subprocess.Popen[bytes]]:
    """Fresh interpreters (never forks of this threaded process), importing while we go on."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return [
        subprocess.Popen(
            [sys.executable, "-c", "from listonosz.prepare import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
        for _ in range(count)
    ]


def _in_workers(
    processes: list[subprocess.Popen[bytes]],
    factory: MessageFactory,
    recipients: Sequence[Contact],
    mime: bool,
) -> list[tuple[list[Ready], list[RenderFailure]]]:
    """Each worker prepares one contiguous share of the recipients; the shares come back in
    order."""
    share = -(-len(recipients) // len(processes))
    setup = (factory.campaign, factory.kind, factory.settings, factory.now, mime)
    for number, process in enumerate(processes):
        assert process.stdin is not None
        with process.stdin:
            job = (setup, recipients[number * share : (number + 1) * share])
            pickle.dump(job, process.stdin, PROTOCOL)
    return [_result_of(process) for process in processes]


def _result_of(process: subprocess.Popen[bytes]) -> tuple[list[Ready], list[RenderFailure]]:
    assert process.stdout is not None
    try:
        outcome, value = pickle.load(process.stdout)
    except EOFError:
        raise RuntimeError(f"a preparing worker died (exit code {process.wait()})") from None
    if outcome == "error":
        raise RuntimeError(f"a preparing worker failed:\n{value}")
    result: tuple[list[Ready], list[RenderFailure]] = value
    return result


def serve() -> None:
    """A worker's life: read the setup and its recipients, answer their messages, exit."""
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the answer
    try:
        (campaign, kind, settings, now, mime), contacts = pickle.load(sys.stdin.buffer)
        factory = MessageFactory(campaign, kind, settings, now=now)
        answer: tuple[str, object] = ("ok", _prepare_chunk(factory, contacts, mime))
    except BaseException:  # everything goes back to the parent, which raises
        answer = ("error", traceback.format_exc())
    pickle.dump(answer, stdout, PROTOCOL)
    stdout.flush()
