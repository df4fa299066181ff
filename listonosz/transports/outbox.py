"""The outbox transport: a dry run that writes each message as an .eml file and sends nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from listonosz.mail import MAX_LINE
from listonosz.paths import private_dir, write_private
from listonosz.stopping import Stopped
from listonosz.transports.base import NOT_SENT, Delivery, Outgoing
from listonosz.transports.ratelimit import Pace


def too_long(data: bytes) -> str | None:
    """Why a real server would refuse ``data`` (a line over 998 octets), or None.

    SMTP servers answer such a message ``500 Line too long`` (RFC 5321 4.5.3.1.6); the dry run
    fails it the same way instead of counting it sent."""
    lines = data.split(b"\n")
    if max(map(len, lines)) <= MAX_LINE + 1:  # + 1: the CR of each CRLF
        return None
    lengths = (len(line.removesuffix(b"\r")) for line in lines)
    number, octets = next((n, size) for n, size in enumerate(lengths, 1) if size > MAX_LINE)
    return (
        f"500 line too long: line {number} has {octets:,} octets, more than the {MAX_LINE} "
        "a mail server takes (not written)"
    )


class OutboxTransport:
    """Writes ``<ledger key>.eml`` files; a resend overwrites, so each message appears once.

    A message a real server would refuse for a line over 998 octets is failed, not written."""

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
            refusal = too_long(message.data)
            if refusal:
                results.append(Delivery(message.key, "failed", refusal))
                continue
            partial = self.folder / f".{message.key}.part"
            write_private(partial, message.data)
            partial.replace(self.folder / f"{message.key}.eml")
            results.append(Delivery(message.key, "sent", f"written to {self.folder}"))
        return results
