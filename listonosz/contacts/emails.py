"""Validating e-mail addresses as email-validator does, fast for the addresses that are plain.

email-validator (no network) is the judge. Most addresses are plain ASCII ``local@domain`` on
a few hundred domains: their local part passes the dot-atom rule email-validator applies
first, and email-validator is asked about each *domain* once. Any other address goes to it
whole, so the verdict is always email-validator's. A domain one edit (a letter added, dropped,
changed, or two swapped) away from a common mailbox provider is most likely a typo of it.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from email_validator import EmailNotValidError, validate_email

from listonosz.contacts.text import clean_text

#: RFC 5322 atext, as in email-validator's ``DOT_ATOM_TEXT`` (its first and commonest check).
_ATEXT = r"a-zA-Z0-9_!#\$%&'\*\+\-/=\?\^`\{\|\}~"
_SPACE = "[ \\t\\n\\r\\f]*"  # ASCII white space (in Python's re and pyarrow's RE2 alike)
#: A plain ASCII address: a dot-atom local part, one @, hostname characters after it; maybe
#: with ASCII white space around it, which is all that cleaning such a cell would change.
_PLAIN = f"{_SPACE}(?P<local>[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*)@(?P<domain>[a-zA-Z0-9.-]+){_SPACE}"
_PLAIN_PY = re.compile(_PLAIN)
#: The limit email-validator applies to the whole address, in UTF-8 bytes.
MAX_ADDRESS_LENGTH = 254
_CACHE_LIMIT = 200_000

_Domain = tuple[str, int, str | None]  # (ASCII form, longest UTF-8 length of its forms, typo)
#: email-validator's reason for an address without any at-sign (it can never be valid).
NO_AT_SIGN = "An email address must have an @-sign."
_AT_SIGNS = ("@", "\uff20", "\ufe6b")  # the at-sign and the look-alikes it names in its errors


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
    if abs(len(a) - len(b)) > 1:
        return False
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


def _typo(domain: str) -> str | None:
    better = suggest(domain)
    return f"the domain {domain} looks like a typo of {better}" if better else None


def _with_suggestion(reason: str, address: str) -> str:
    """``reason``, and ``Did you mean jan@gmail.com?`` for ``jan@gmail.con``."""
    local, at, domain = address.lower().rpartition("@")
    better = suggest(domain) if at else None
    return f"{reason} Did you mean {local}@{better}?" if better else reason


class EmailChecker:
    """Validates and normalises addresses; remembers what it learnt about each domain.

    ``smtputf8``: accept a non-ASCII local part (``zażółć@…``), for servers that support it.
    """

    def __init__(self, smtputf8: bool = False) -> None:
        self.smtputf8 = smtputf8
        # domain as written → what email-validator said about it: _Domain, or its reason
        self._domains: dict[str, _Domain | str] = {}

    def normalise(self, candidate: str) -> str:
        """The address to store and send to (lower case, IDN domain as punycode); a
        :class:`ValueError` with email-validator's reason when it cannot be used."""
        address, reason = self.verdict(candidate)
        if address is None:
            raise ValueError(reason)
        return address

    def verdict(self, raw: str) -> tuple[str | None, str | None]:
        """(address, typo warning or None) when usable, else (None, the reason and a suggestion
        for a likely typo); no exceptions. The cell is cleaned first (trimmed, NFC, no control
        characters)."""
        plain = _PLAIN_PY.fullmatch(raw) or _PLAIN_PY.fullmatch(raw := clean_text(raw))
        if plain is not None:
            local, domain = plain.group("local", "domain")
            raw, known = f"{local}@{domain}", self._domains.get(domain)
            if known is None:
                known = self._learn(domain)
            if type(known) is tuple:
                if len(local) + 1 + known[1] <= MAX_ADDRESS_LENGTH:
                    return f"{local.lower()}@{known[0]}", known[2]
            elif known:
                # A valid local part and a domain email-validator rejects: it rejects the
                # whole address for the domain, with the same reason.
                return None, _with_suggestion(str(known), raw)
        elif not raw:
            return None, "the e-mail address is empty"
        elif not any(sign in raw for sign in _AT_SIGNS):
            return None, _with_suggestion(NO_AT_SIGN, raw)
        return self._slow(raw)

    def verdicts(self, cells: list[str]) -> tuple[list[str | None], list[str | None]]:
        """:meth:`verdict` of each cell, as two lists (addresses, warnings or reasons): the plain
        cells (most) all at once by pyarrow (the same rule in RE2), the others one by one."""
        plain = pc.extract_regex(pa.array(cells, pa.string()), f"^{_PLAIN}$")
        domains = pc.dictionary_encode(plain.field("domain"))
        learnt = [self._domains.get(domain) or self._learn(domain)
                  for domain in domains.dictionary.to_pylist()]  # fmt: skip
        ok = [known if type(known) is tuple else ("", MAX_ADDRESS_LENGTH, None) for known in learnt]
        ascii_domain, longest, typo = (
            pc.take(pa.array([known[part] for known in ok], kind), domains.indices)
            for part, kind in enumerate((pa.string(), pa.int64(), pa.string()))
        )
        local = plain.field("local")
        good = pc.fill_null(
            pc.less(pc.add(pc.utf8_length(local), longest), MAX_ADDRESS_LENGTH), False
        )
        address = pc.binary_join_element_wise(pc.ascii_lower(local), ascii_domain, "@")
        addresses, notes = (
            pc.if_else(good, address, None).to_pylist(),
            pc.if_else(good, typo, None).to_pylist(),
        )
        for index in np.flatnonzero(~good.to_numpy(zero_copy_only=False)).tolist():
            addresses[index], notes[index] = self.verdict(cells[index])
        return addresses, notes

    def _learn(self, domain: str) -> _Domain | str:
        if len(self._domains) >= _CACHE_LIMIT:
            self._domains.clear()
        lower = domain.lower()  # the verdict does not depend on the case of ASCII letters
        learnt = self._domains.get(lower) if lower != domain else None
        if learnt is None:
            try:
                valid = validate_email(
                    f"a@{domain}", check_deliverability=False, allow_smtputf8=self.smtputf8
                )
            except EmailNotValidError as exc:
                # A length error may come from the "a@" we added: let the full check decide.
                learnt = "" if str(exc).startswith("The email address is too long") else str(exc)
            else:
                forms = (domain, valid.domain, valid.ascii_domain)
                length = max(len(form.encode()) for form in forms)
                learnt = (valid.ascii_domain.lower(), length, _typo(valid.ascii_domain.lower()))
        self._domains[domain] = learnt
        return learnt

    def _slow(self, candidate: str) -> tuple[str | None, str | None]:
        try:
            valid = validate_email(
                candidate, check_deliverability=False, allow_smtputf8=self.smtputf8
            )
        except EmailNotValidError as exc:
            return None, _with_suggestion(str(exc), candidate)
        address = (valid.ascii_email or valid.normalized).lower()
        return address, _typo(address.rpartition("@")[2])
