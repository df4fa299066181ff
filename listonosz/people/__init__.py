"""A person's data wherever Listonosz holds it: export and erasure (GDPR art. 15 and 17)."""

from listonosz.people.data import (
    Erasure,
    ListRow,
    PersonError,
    erase_person,
    export_person,
    files_mentioning,
    list_rows,
)

__all__ = [
    "Erasure",
    "ListRow",
    "PersonError",
    "erase_person",
    "export_person",
    "files_mentioning",
    "list_rows",
]
