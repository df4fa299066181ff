"""Attendance: marking people present at the registration desk, and closing attendance.

The desk finds people by name or organisation (Polish letters and case ignored) in the
campaign's merged audience and marks them present; each mark is recorded with its time and
source (``checkin``). Closing attendance makes it final: yes-people not marked present count
as absent, and follow-ups that need attendance may go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from listonosz.contacts.model import Contact
from listonosz.contacts.text import fold
from listonosz.store import Participant

#: Most people a search shows (the desk narrows a longer list by typing more).
MAX_RESULTS = 30


@dataclass(frozen=True, slots=True)
class Guest:
    """One person as the desk sees them: a name, an organisation, and whether present.
    ``handle`` identifies them in the desk's forms (a keyed hash, never the address)."""

    handle: str
    name: str
    organisation: str
    present: bool
    answer: str | None


def search(
    contacts: Sequence[Contact],
    states: dict[str, Participant],
    query: str,
    handle_of: dict[str, str],
) -> list[Guest]:
    """People whose name or organisation contains every word of ``query`` (folded)."""
    words = [fold(word) for word in query.split() if fold(word)]
    if not words:
        return []
    found = []
    for contact in contacts:
        haystack = fold(f"{contact.full_name} {contact.organisation}")
        if all(word in haystack for word in words):
            state = states.get(contact.email)
            found.append(
                Guest(
                    handle_of[contact.email],
                    contact.full_name or "(bez nazwiska)",
                    contact.organisation,
                    bool(state and state.attended == "attended"),
                    state.answer if state else None,
                )
            )
            if len(found) >= MAX_RESULTS:
                break
    return sorted(found, key=lambda g: fold(g.name))
