"""The outbox transport: a dry run that writes each message as an .eml file and sends nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from listonosz.paths import private_dir, write_private
from listonosz.stopping import Stopped
from listonosz.transports.base import NOT_SENT, Delivery, Outgoing
from listonosz.transports.ratelimit import Pace


class OutboxTransport:
    """Writes ``<ledger key>.eml`` files; a resend overwrites, so each message appears once."""

    wants_mime = True
    claim_chunk = 100

    def __init__(self, folder: Path, pace: Pace | None = None) -> None:
        self.folder = folder
        self.pace = pace or Pace()

    def check(self) -> None:
        private_dir(self.folder)

    def close(self) -> None:
        """Nothing to close."""

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        private_dir(self.folder)
        results = []
        for message in messages:
            try:
                self.pace()
            except Stopped:
                results.append(Delivery(message.key, "deferred", NOT_SENT))
                continue
            partial = self.folder / f".{message.key}.part"
            write_private(partial, message.data)
            partial.replace(self.folder / f"{message.key}.eml")
            results.append(Delivery(message.key, "sent", f"written to {self.folder}"))
        return results
