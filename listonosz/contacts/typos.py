"""Spotting likely typos in the domains people write most: ``gmail.con``, ``wp.p``, ``onet.pll``.

A domain one edit (a letter added, dropped, changed, or two swapped) away from a common
mailbox provider, and not itself one, is most likely a typo of it.
"""

from __future__ import annotations

import functools

#: Free-mail and big institutional domains Polish lists are full of, then global ones.
# fmt: off
COMMON_DOMAINS: tuple[str, ...] = (
    "wp.pl", "o2.pl", "onet.pl", "onet.eu", "op.pl", "poczta.onet.pl", "vp.pl", "interia.pl",
    "interia.eu", "poczta.fm", "tlen.pl", "gazeta.pl", "go2.pl", "int.pl", "buziaczek.pl",
    "autograf.pl", "spoko.pl", "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com",
    "outlook.com", "live.com", "icloud.com", "proton.me", "protonmail.com", "gov.pl",
)
# fmt: on
_COMMON = frozenset(COMMON_DOMAINS)


def _one_edit_apart(a: str, b: str) -> bool:
    """True when ``a`` becomes ``b`` by one insertion, deletion, substitution or swap."""
    pairs = enumerate(zip(a, b, strict=False))
    i = next((at for at, (x, y) in pairs if x != y), min(len(a), len(b)))  # the first difference
    swapped = a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :]
    return a != b and (a[i + 1 :] in (b[i + 1 :], b[i:]) or a[i:] == b[i + 1 :] or swapped)


@functools.lru_cache(maxsize=100_000)
def suggest(domain: str) -> str | None:
    """The common domain ``domain`` is one edit away from, or None."""
    domain = domain.lower()
    if domain in _COMMON:
        return None
    return next((d for d in COMMON_DOMAINS if _one_edit_apart(domain, d)), None)


def suggest_address(address: str) -> str | None:
    """``jan@gmail.con`` → ``jan@gmail.com``; None when the domain looks fine."""
    local, at, domain = address.rpartition("@")
    better = suggest(domain) if at else None
    return f"{local}@{better}" if better else None
