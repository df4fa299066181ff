"""Why we may write to someone: their consent, or the institution's public task.

An invitation to a public event is part of the centre's public task (GDPR art. 6(1)(e)); a
newsletter needs consent (art. 6(1)(a)). A list says so in a "Podstawa prawna" column, a
"Zgoda" (consent) column, or not at all, when the campaign file gives a default per list.
"""

from __future__ import annotations

from collections.abc import Iterable

from listonosz.contacts.model import Contact, LegalBasis
from listonosz.contacts.text import fold

CONSENT: LegalBasis = "consent"
PUBLIC_TASK: LegalBasis = "public_task"
LEGAL_BASES: tuple[str, ...] = (CONSENT, PUBLIC_TASK)

# fmt: off
_CONSENT_WORDS = ("consent", "zgoda", "zgoda osoby", "art. 6 ust. 1 lit. a", "6.1.a", "a")
_PUBLIC_WORDS = ("public task", "public_task", "zadanie publiczne", "interes publiczny",
                 "zadanie realizowane w interesie publicznym", "art. 6 ust. 1 lit. e", "6.1.e", "e")
_YES = frozenset(fold(w) for w in ("tak", "t", "yes", "y", "1", "x", "true", "prawda", "zgoda"))
_NO = frozenset(fold(w) for w in ("nie", "n", "no", "0", "false", "fałsz", "brak", "brak zgody",
                                  "wycofana"))
# fmt: on
_BASIS_WORDS: dict[str, LegalBasis] = {fold(word): CONSENT for word in _CONSENT_WORDS}
_BASIS_WORDS.update({fold(word): PUBLIC_TASK for word in _PUBLIC_WORDS})


#: A row's evidence of a legal basis, as bit flags: a person's is that of all their rows, OR-ed.
CONSENT_FLAG, PUBLIC_FLAG, REFUSED_FLAG = 1, 2, 4
BASIS_FLAGS: dict[str, int] = {CONSENT: CONSENT_FLAG, PUBLIC_TASK: PUBLIC_FLAG}


def basis_of(flags: int) -> LegalBasis:
    """The legal basis the evidence gives: consent unless refused, else public task if any."""
    if flags & CONSENT_FLAG and not flags & REFUSED_FLAG:
        return CONSENT
    return PUBLIC_TASK if flags & PUBLIC_FLAG else ""


def row_basis(basis: str, consent: str, default: int) -> tuple[int, list[tuple[str, str, str]]]:
    """A row's flags from its "Podstawa prawna" (``consent``/``public_task``) and "Zgoda"
    (tak/nie) cells, either maybe blank, and the list's default flags; and (field, cell,
    message) for each cell we cannot read."""
    unclear, fallback = [], "; the list's default is used"
    if parsed := _BASIS_WORDS.get(fold(basis)):
        return BASIS_FLAGS[parsed], []
    if basis.strip():
        why = (
            "cannot tell the legal basis (expected zgoda/consent or zadanie publiczne/public task)"
        )
        unclear.append(("legal_basis", basis, why + fallback))
    if (given := fold(consent)) in _YES:
        return default | CONSENT_FLAG, unclear
    if given in _NO:
        return (default & PUBLIC_FLAG) | REFUSED_FLAG, unclear
    if consent.strip():
        why = "cannot tell whether this is consent (expected tak/nie)"
        unclear.append(("consent", consent, why + fallback))
    return default, unclear


def newsletter_audience(contacts: Iterable[Contact]) -> list[Contact]:
    """Only the people who consented: a newsletter is not part of the public task."""
    return [contact for contact in contacts if contact.legal_basis == CONSENT]
