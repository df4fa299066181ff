"""Render and assemble every recipient's message once, before the first one is claimed.

This is the campaign's preflight and its only render. A template that fails for anyone fails
the whole preparation with :class:`PreflightError`, which lists every recipient it hits, and
nothing is claimed or sent. Otherwise each message is kept, compressed, in the form its
transport takes (MIME bytes, signed when DKIM is on, or the parts HTTP APIs take), so sending
is only claim, send and settle. The messages wait in a :class:`Spool` on disk; what stays in
memory is a small :class:`Ready` per recipient.

Large audiences are prepared in worker processes too, one for every other core: rendering
then uses every core, and the sending threads never compete with it for the interpreter lock.
A worker is a fresh interpreter (``serve``) fed chunks over a pipe, never a fork: the flow's
process has threads. This process renders as well, from the first moment, while the workers
start up.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lz4.frame

from listonosz.contacts.model import Contact
from listonosz.render.diagnostics import RenderError, RenderFailure
from listonosz.render.preflight import CROSS_CHECKED, PreflightError, cross_check
from listonosz.sending.pipeline import MessageFactory
from listonosz.sending.spool import Spool
from listonosz.stopping import Stop
from listonosz.transports.base import Outgoing

#: From this many recipients on, worker processes pay for their start-up (about half a second).
PARALLEL_FROM = 2_000
#: Recipients per job: big enough to be cheap to hand over, small enough to share out evenly.
CHUNK = 500
PROTOCOL = pickle.HIGHEST_PROTOCOL


@dataclass(frozen=True, slots=True)
class Ready:
    """One recipient's message, prepared: its ledger row and where its packed ``Outgoing``
    lies in the spool."""

    key: str
    email: str
    groups: str
    message_id: str
    spool: Spool
    offset: int
    size: int

    def packed(self) -> bytes:
        """The message, pickled and lz4-compressed."""
        return self.spool.read(self.offset, self.size)

    def outgoing(self) -> Outgoing:
        """The message as its transport takes it."""
        message: Outgoing = pickle.loads(lz4.frame.decompress(self.packed()))
        return message


#: What preparing one recipient gives: key, address, groups, Message-ID, packed message.
Packed = tuple[str, str, str, str, bytes]


def pack_message(factory: MessageFactory, contact: Contact, mime: bool) -> Packed:
    """Render, address and assemble one recipient's message; RenderError if it cannot be."""
    prepared = factory.prepare(contact)
    outgoing = factory.outgoing(prepared, factory.now, mime)
    packed = lz4.frame.compress(pickle.dumps(outgoing, PROTOCOL))
    return prepared.key, prepared.email, prepared.groups, prepared.personal.message_id, packed


def spooled(spool: Spool, packed: Packed) -> Ready:
    """``packed`` written to ``spool``, as the recipient's :class:`Ready`."""
    key, email, groups, message_id, data = packed
    return Ready(key, email, groups, message_id, spool, spool.add(data), len(data))


def prepare_messages(
    factory: MessageFactory,
    recipients: Sequence[Contact],
    mime: bool,
    workers: int | None = None,
    stop: Stop | None = None,
    spool: Spool | None = None,
) -> list[Ready]:
    """Every recipient's message, in order, written to ``spool`` (a new one in the system's
    temporary folder when None); :class:`PreflightError` lists every failure.

    ``workers``: processes rendering besides this one; by default one for every other core from
    :data:`PARALLEL_FROM` recipients on, none below. A few recipients are also rendered with
    premailer run per message, to prove the template compiled once gives identical bytes.
    Once ``stop`` is requested, preparing ends early and nothing is returned: nothing is sent.
    """
    stop = stop or Stop()
    spool = spool or Spool()
    if workers is None:  # this process renders too: one worker for every other core
        workers = (os.cpu_count() or 1) - 1 if len(recipients) >= PARALLEL_FROM else 0
    processes = _start_workers(min(workers, len(recipients) // CHUNK))
    try:
        # While the workers start up, check the sample against premailer run per message.
        failures = cross_check(factory.renderer, recipients[:CROSS_CHECKED], factory.links)
        if processes:
            results = _together(processes, factory, recipients, mime, stop, spool)
        else:
            results = [_prepare_chunk(factory, recipients, mime, stop, spool)]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
    if stop.requested:
        return []
    ready: list[Ready] = []
    for chunk_ready, chunk_failures in results:
        ready.extend(chunk_ready)
        failures.extend(chunk_failures)
    if failures:
        raise PreflightError(factory.kind, failures, len(recipients))
    return ready


def _pack_chunk(
    factory: MessageFactory,
    contacts: Sequence[Contact],
    mime: bool,
    stop: Stop | None = None,
    spool: Spool | None = None,
) -> tuple[list[Any], list[RenderFailure]]:
    """Each contact's message: written to ``spool`` at once (a :class:`Ready` each), or, with
    no spool (in a worker process), returned packed."""
    made: list[Any] = []
    failures = []
    for contact in contacts:
        if stop is not None and stop.requested:
            break
        try:
            packed = pack_message(factory, contact, mime)
        except RenderError as exc:
            failures.append(exc.failure)
            continue
        made.append(packed if spool is None else spooled(spool, packed))
    return made, failures


def _prepare_chunk(
    factory: MessageFactory,
    contacts: Sequence[Contact],
    mime: bool,
    stop: Stop | None,
    spool: Spool,
) -> tuple[list[Ready], list[RenderFailure]]:
    return _pack_chunk(factory, contacts, mime, stop, spool)


def _start_workers(count: int) -> list[subprocess.Popen[bytes]]:
    """Fresh interpreters (never forks of this threaded process), importing while we go on."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return [
        subprocess.Popen(
            [sys.executable, "-c", "from listonosz.sending.prepare import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
        for _ in range(count)
    ]


def _together(
    processes: list[subprocess.Popen[bytes]],
    factory: MessageFactory,
    recipients: Sequence[Contact],
    mime: bool,
    stop: Stop,
    spool: Spool,
) -> list[tuple[list[Ready], list[RenderFailure]]]:
    """This process and the workers draw chunks from one queue: this one from the front, at
    once; each worker (fed by a thread of ours) from the back, once it has started up. The
    chunks come back in order. Once ``stop`` is requested, the workers are killed."""
    queue = deque(enumerate(recipients[i : i + CHUNK] for i in range(0, len(recipients), CHUNK)))
    results: dict[int, tuple[list[Ready], list[RenderFailure]]] = {}
    trouble: list[BaseException] = []
    setup = (factory.campaign, factory.kind, factory.settings, factory.now, mime)

    def feed(process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        try:
            with process.stdin:
                pickle.dump(setup, process.stdin, PROTOCOL)
                while not trouble and not stop.requested:
                    try:
                        number, contacts = queue.pop()
                    except IndexError:
                        return
                    pickle.dump(contacts, process.stdin, PROTOCOL)
                    process.stdin.flush()
                    packed, failures = _answer_of(process)
                    results[number] = ([spooled(spool, p) for p in packed], failures)
        except BaseException as exc:  # raised again by the caller's thread
            trouble.append(exc)

    feeders = [threading.Thread(target=feed, args=(p,), daemon=True) for p in processes]
    for feeder in feeders:
        feeder.start()
    try:
        while not trouble and queue and not stop.requested:
            number, contacts = queue.popleft()
            results[number] = _prepare_chunk(factory, contacts, mime, stop, spool)
    except BaseException as exc:
        trouble.append(exc)  # the feeders stop too
        raise
    if stop.requested:  # what the workers still do is thrown away: no waiting for it (a
        for process in processes:  # worker still starting up could take seconds)
            process.kill()
    for feeder in feeders:
        feeder.join()
    if trouble and not stop.requested:  # a stopped run returns nothing, whatever went wrong
        raise trouble[0]
    return [results[number] for number in sorted(results)]


def _answer_of(process: subprocess.Popen[bytes]) -> tuple[list[Packed], list[RenderFailure]]:
    assert process.stdout is not None
    try:
        outcome, value = pickle.load(process.stdout)
    except EOFError:
        raise RuntimeError(f"a preparing worker died (exit code {process.wait()})") from None
    if outcome == "error":
        raise RuntimeError(f"a preparing worker failed:\n{value}")
    result: tuple[list[Packed], list[RenderFailure]] = value
    return result


def serve() -> None:
    """A worker's life: read the setup, then answer chunks of recipients until the pipe ends.

    Ctrl-C and SIGTERM reach the whole process group; the parent decides, and ends the pipe
    (or kills the worker) when it stops.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the answers
    factory, mime = None, False
    while True:
        try:
            if factory is None:
                campaign, kind, settings, now, mime = pickle.load(stdin)
                factory = MessageFactory(campaign, kind, settings, now=now)
                continue
            contacts = pickle.load(stdin)
        except EOFError:
            return
        try:
            answer: tuple[str, object] = ("ok", _pack_chunk(factory, contacts, mime))
        except BaseException:  # everything goes back to the parent, which raises
            answer = ("error", traceback.format_exc())
        try:
            pickle.dump(answer, stdout, PROTOCOL)
            stdout.flush()
        except BrokenPipeError:  # the parent is gone (killed mid-run): so is our work
            return
