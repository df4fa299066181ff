"""A person's data, wherever Listonosz holds it: export (GDPR art. 15) and erasure (art. 17).

The store is read and cleared by :class:`listonosz.store.PersonalData`; the contact lists are
staff's own files, which Listonosz reads but never edits, so erasure names the files and rows
that still hold the person (staff must edit those, or the next list merge brings them back,
though the suppression list keeps them from being written to). Files under ``var/`` that still
mention the address (reports, dry-run messages) are named too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from listonosz.config import Settings
from listonosz.contacts.model import PERSON_FIELDS
from listonosz.contacts.normalise import normalise_email
from listonosz.errors import ListonoszError
from listonosz.lifecycle import CampaignBook
from listonosz.sending import merge_audience
from listonosz.store import Erased, PersonalData

#: Files under var/ larger than this are not searched for the address.
MAX_SCANNED = 256 * 1024 * 1024


class PersonError(ListonoszError, ValueError):
    """An address that cannot be looked up (not a usable e-mail address)."""


@dataclass(frozen=True, slots=True)
class ListRow:
    """The person as one campaign's merged lists have them, with the rows they came from."""

    campaign: str
    rows: list[str]
    groups: list[str]
    legal_basis: str
    fields: dict[str, str]
    taken_from: dict[str, str]


@dataclass(frozen=True, slots=True)
class Erasure:
    """What erasure did, and the files that still hold the person (for staff to edit)."""

    erased: Erased
    contact_rows: list[str]
    other_files: list[str]


def normalised(email: str) -> str:
    """The address as the store keys it; a clear error for one that is not an address."""
    try:
        return normalise_email(email)
    except ValueError as exc:
        raise PersonError(f"not a usable e-mail address: {exc}") from None


def list_rows(settings: Settings, email: str) -> list[ListRow]:
    """Where the project's campaigns' contact lists hold ``email`` (normalised)."""
    found = []
    for campaign in CampaignBook(settings).all():
        for contact in merge_audience(campaign).contacts:
            if contact.email != email:
                continue
            values = {
                name: str(getattr(contact, name))
                for name in PERSON_FIELDS
                if getattr(contact, name)
            }
            found.append(
                ListRow(
                    campaign.id,
                    list(contact.sources),
                    list(contact.groups),
                    contact.legal_basis,
                    values,
                    contact.provenance,
                )
            )
    return found


def export_person(settings: Settings, email: str) -> dict[str, Any]:
    """Everything held about ``email``, as JSON-ready data; the export itself is logged as an
    event that names the person's keyed hash, not the address."""
    address = normalised(email)
    with PersonalData(settings.resolved_ledger_url, settings.signing_secret()) as store:
        data = store.data(address)
        store.log_export(address)
    return {
        "email": address,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "contact_lists": [asdict(row) for row in list_rows(settings, address)],
        "deliveries": [_plain(asdict(d)) for d in data.deliveries],
        "events": [_plain(asdict(e)) for e in data.events],
        "answers": [_plain(asdict(p)) for p in data.participants],
        "suppression": _plain(asdict(data.suppression)) if data.suppression else None,
    }


def erase_person(settings: Settings, email: str) -> Erasure:
    """Remove ``email`` from the store (a keyed hash stays on the suppression list) and name
    the files that still hold it."""
    address = normalised(email)
    with PersonalData(settings.resolved_ledger_url, settings.signing_secret()) as store:
        erased = store.erase(address)
    rows = [row for found in list_rows(settings, address) for row in found.rows]
    return Erasure(erased, sorted(set(rows)), files_mentioning(settings.var_dir, address))


def files_mentioning(folder: Path, email: str) -> list[str]:
    """Files under ``folder`` whose bytes contain ``email`` (any case), by path."""
    needle = email.lower().encode()
    found: list[str] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*")):
        try:
            if not path.is_file() or path.stat().st_size > MAX_SCANNED:
                continue
            if needle in path.read_bytes().lower():
                found.append(str(path))
        except OSError:
            continue
    return found


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Dates as ISO strings, mappings as dicts: what ``json.dumps`` takes."""
    plain: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dt.datetime | dt.date):
            plain[name] = value.isoformat()
        elif isinstance(value, dict):
            plain[name] = dict(value)
        else:
            plain[name] = value
    return plain
