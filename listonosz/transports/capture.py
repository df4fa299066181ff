"""The embedded capture server: a real SMTP server that keeps every message as an .eml file.

It lets a new user, the demo and the tests see exactly what would have been sent, without an
account anywhere. Nothing is relayed.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from listonosz.mail import MAX_LINE
from listonosz.paths import private_dir, write_private


class OutboxHandler:
    """Writes each received message to ``outbox/<time>-<n>.eml``, atomically."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        private_dir(self.outbox)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{next(self._numbers):07d}.eml"
        partial = self.outbox / f".{name}.part"
        data = envelope.original_content or b""
        write_private(partial, data if data.endswith(b"\r\n") else data + b"\r\n")
        partial.rename(self.outbox / name)
        return "250 2.0.0 Message stored"


class StrictSMTP(SMTP):
    """Refuses a line over 998 octets with ``500 Line too long``, as RFC 5321 4.5.3.1.6 sets
    (1,000 with its CRLF; aiosmtpd lets one more octet through), so that the capture refuses
    what a real server would."""

    line_length_limit = MAX_LINE + 2


class CaptureController(Controller):
    """aiosmtpd's controller, serving :class:`StrictSMTP`."""

    def factory(self) -> SMTP:
        return StrictSMTP(self.handler, **self.SMTP_kwargs)


def start_capture_server(outbox: Path, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    """Start the server in a background thread; call ``.stop()`` on the result to end it."""
    controller = CaptureController(
        OutboxHandler(outbox), hostname=host, port=port, data_size_limit=50 * 1024 * 1024
    )
    controller.start()
    return controller
