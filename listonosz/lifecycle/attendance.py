"""Attendance: marking people present at the registration desk, importing the signed list,
and closing attendance.

The desk finds people by name or organisation (Polish letters and case ignored) in the
campaign's merged audience and marks them present; each mark is recorded with its time and
source (``checkin``). Closing attendance makes it final: yes-people not marked present count
as absent, and follow-ups that need attendance may go.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from listonosz.contacts.columns import map_headers
from listonosz.contacts.model import Contact
from listonosz.contacts.normalise import normalise_email
from listonosz.contacts.text import clean_text, fold
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


#: How far down a list its header row is looked for (titles often sit above it).
HEADER_ROWS = 10
#: Headers of a column that says whether the person came (a signature, a tick): a row with
#: this column empty is someone on the list who did not sign. Compared folded.
PRESENCE_HEADERS = ("obecny", "obecna", "obecnosc", "podpis", "present", "signature", "obecni")
#: Values of such a column that mean "did not come", folded.
ABSENT_VALUES = ("", "nie", "no", "n", "0", "-", "nieobecny", "nieobecna", "brak")


class AttendanceFileError(ValueError):
    """An attendance list that cannot be read; the message names the file and why."""


@dataclass(frozen=True, slots=True)
class SignedRow:
    """One person on the signed list, as staff typed them."""

    where: str  # file:row as a spreadsheet shows it
    email: str
    name: str
    organisation: str


@dataclass
class Matched:
    """What an attendance import found: who came, and the rows nobody could be matched to."""

    present: dict[str, str] = field(default_factory=dict)  # email → where on the list
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    not_present: int = 0


def read_signed_list(path: Path, label: str) -> list[SignedRow]:
    """The people on an attendance list (CSV in UTF-8 or Windows-1250, XLSX or ODS): its
    header found among the first rows by the contact lists' column names (E-mail, Imię,
    Nazwisko, Instytucja …); rows whose presence column (Podpis, Obecność …) is empty left out.
    """
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".ods"):
            sheet = pd.read_excel(path, header=None, dtype=str, engine="calamine")
            rows = sheet.fillna("").astype(str).values.tolist()
        else:
            rows = _read_csv(path)
    except (OSError, ValueError) as exc:
        raise AttendanceFileError(f"{label}: cannot read the attendance list ({exc})") from None
    width = max((len(row) for row in rows), default=0)
    rows = [row + [""] * (width - len(row)) for row in rows]
    index, columns = _header(rows, label)
    header = [fold(str(cell)) for cell in rows[index]]
    presence = next((i for i, h in enumerate(header) if h in PRESENCE_HEADERS), None)
    by_field = {name: i for i, name in columns.items()}
    found = []
    for number, row in enumerate(rows[index + 1 :], start=index + 2):

        def cell(name: str, row: list[str] = row) -> str:
            position = by_field.get(name)
            return clean_text(str(row[position])) if position is not None else ""

        if not any(str(value).strip() for value in row):
            continue
        if presence is not None and fold(str(row[presence])) in ABSENT_VALUES:
            found.append(SignedRow(f"{label}:{number}", "", "", ""))  # listed, not signed
            continue
        name = cell("full_name") or " ".join(
            p for p in (cell("first_name"), cell("last_name")) if p
        )
        found.append(SignedRow(f"{label}:{number}", cell("email"), name, cell("organisation")))
    return found


def _header(rows: list[list[str]], label: str) -> tuple[int, dict[int, str]]:
    """The header row's position and its recognised columns."""
    for index, row in enumerate(rows[:HEADER_ROWS]):
        columns = map_headers([str(cell) for cell in row])
        names = set(columns.values())
        if "email" in names or {"last_name", "full_name"} & names:
            return index, columns
    raise AttendanceFileError(
        f"{label}: no header with E-mail, Nazwisko or Imię i nazwisko in its first "
        f"{HEADER_ROWS} rows"
    )


def match_attendance(rows: Sequence[SignedRow], contacts: Sequence[Contact]) -> Matched:
    """Match each signed row to one person of the audience: by address, else by name and
    organisation (Polish letters and case ignored), else by name alone when only one person
    has it. Nothing is guessed: a row that fits nobody, or several, is reported."""
    by_email = {c.email: c for c in contacts}
    by_name: dict[str, list[Contact]] = {}
    for contact in contacts:
        if contact.full_name:
            by_name.setdefault(fold(contact.full_name), []).append(contact)
    result = Matched()
    for row in rows:
        if not (row.email or row.name):
            result.not_present += 1
            continue
        person = by_email.get(_address(row.email)) if row.email else None
        if person is None and row.name:
            named = by_name.get(fold(row.name), []) + by_name.get(fold(_swapped(row.name)), [])
            named = list({c.email: c for c in named}.values())
            if row.organisation and len(named) > 1:
                named = [c for c in named if fold(c.organisation) == fold(row.organisation)]
            if len(named) > 1:
                result.ambiguous.append(
                    f"{row.where}: {row.name}: {len(named)} people on the lists"
                )
                continue
            person = named[0] if named else None
        if person is None:
            who = row.name or "(no name)"
            result.unmatched.append(f"{row.where}: {who}: nobody on the lists matches")
            continue
        result.present.setdefault(person.email, row.where)
    return result


def _address(text: str) -> str:
    try:
        return normalise_email(text)
    except ValueError:
        return ""


def _swapped(name: str) -> str:
    """``Kowalski Jan`` for ``Jan Kowalski``: lists write names either way round."""
    parts = name.split()
    return " ".join(parts[1:] + parts[:1]) if len(parts) > 1 else name


def _read_csv(path: Path) -> list[list[str]]:
    """Rows of a CSV in UTF-8 or Windows-1250 (pandas' C parser), its delimiter the one its
    first lines use most; blank and short rows (a title line above the header) kept, cells
    past the widest of the first lines (where the header is) left out."""
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1250"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        lines = text.splitlines()[:20]
        delimiter = max(",;\t|", key=lambda d: sum(line.count(d) for line in lines))
        width = range(1 + max((line.count(delimiter) for line in lines), default=0))
        cells = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, names=width,
                            usecols=width, dtype=str, keep_default_na=False,
                            skip_blank_lines=False, engine="c")  # fmt: skip
        return [[str(cell) for cell in row] for row in cells.to_numpy().tolist()]
    raise ValueError("neither UTF-8 nor Windows-1250 text")
