"""VERP return paths that name their delivery and cannot be forged.

Each message leaves with the envelope sender ``local+<key>.<mac>@domain``: a bounce comes back
to that address, so it names the delivery it is about without parsing the bounce's text. The MAC
(an HMAC of the key under the installation secret, truncated) makes it a signature: a forged
bounce to a made-up ``local+<key>`` address suppresses nobody. The MAC is base32, lower case, so
a mail system that changes the case of local parts does not break it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

#: Characters of the MAC: 10 base32 characters carry 50 bits.
MAC_LENGTH = 10
#: RFC 5321's limit on a local part (``local+key.mac``).
MAX_LOCAL_PART = 64

_VERP = re.compile(
    r"^(?P<local>[^+@]+)\+(?P<key>[A-Za-z0-9_-]+)\.(?P<mac>[a-z2-7]+)@(?P<domain>.+)$"
)


def verp_mac(secret: bytes, key: str) -> str:
    """The signature of one delivery key in its return path."""
    digest = hmac.new(secret, f"verp\x1f{key}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:MAC_LENGTH]


def verp_address(bounce_address: str, key: str, secret: bytes) -> str:
    """``bounce_address`` (``bounces@domain``) turned into the return path of one delivery."""
    local, domain = bounce_address.rsplit("@", 1)
    verp_local = f"{local}+{key}.{verp_mac(secret, key)}"
    if len(verp_local) > MAX_LOCAL_PART:
        raise ValueError(
            f"the bounce address {bounce_address!r} is too long for VERP: its local part "
            f"may have at most {MAX_LOCAL_PART - len(verp_local) + len(local)} characters"
        )
    return f"{verp_local}@{domain}"


def verp_key(address: str, secret: bytes) -> tuple[str | None, bool]:
    """What a (possible) VERP address says: ``(key, True)`` when its MAC checks, ``(None,
    True)`` for an address without one, ``(None, False)`` for a forged or damaged one."""
    found = _VERP.match(address.strip().strip("<>").lower())
    if found is None:
        return None, True
    key = found["key"]
    if hmac.compare_digest(verp_mac(secret, key), found["mac"]):
        return key, True
    return None, False


def first_verp_key(addresses: Iterable[str], secret: bytes) -> tuple[str | None, bool]:
    """The key of the first address among ``addresses`` whose MAC checks; ``(None, False)``
    when VERP addresses were there but none checks, ``(None, True)`` when there were none."""
    genuine = True
    for address in addresses:
        key, ok = verp_key(address, secret)
        if key is not None:
            return key, True
        genuine = genuine and ok
    return None, genuine
