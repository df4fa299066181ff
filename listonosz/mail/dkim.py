"""DKIM signatures (dkimpy), covering the unsubscribe headers as Gmail and Yahoo require."""

from __future__ import annotations

from pathlib import Path

import dkim

from listonosz.config import DkimSettings
from listonosz.errors import ListonoszError

SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"Reply-To",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
)


class SigningError(ListonoszError):
    """A DKIM key that cannot be used; says which setting to fix."""


class DkimSigner:
    """Prepends a ``DKIM-Signature`` (relaxed/relaxed, rsa-sha256 or ed25519-sha256)."""

    def __init__(self, settings: DkimSettings) -> None:
        self.domain = settings.domain.encode("ascii")
        self.selector = settings.selector.encode("ascii")
        self.algorithm = b"ed25519-sha256" if settings.algorithm == "ed25519" else b"rsa-sha256"
        self._key = _load_key(settings)

    def sign(self, message: bytes) -> bytes:
        try:
            signature: bytes = dkim.sign(
                message,
                self.selector,
                self.domain,
                self._key,
                canonicalize=(b"relaxed", b"relaxed"),
                signature_algorithm=self.algorithm,
                include_headers=list(SIGNED_HEADERS),
            )
        except dkim.DKIMException as exc:
            raise SigningError(f"DKIM signing failed for {self.domain.decode()}: {exc}") from None
        return signature + message


def _load_key(settings: DkimSettings) -> bytes:
    if settings.private_key is not None:
        return settings.private_key.get_secret_value().encode("ascii")
    if settings.private_key_file is not None:
        try:
            return Path(settings.private_key_file).read_bytes()
        except OSError as exc:
            raise SigningError(
                f"dkim.private_key_file {settings.private_key_file}: {exc.strerror}"
            ) from None
    raise SigningError("dkim needs private_key (environment) or private_key_file")
