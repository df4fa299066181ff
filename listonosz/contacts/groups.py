"""The stakeholder groups a regional social-policy centre invites, with their Polish labels."""

STAKEHOLDER_GROUPS: dict[str, str] = {
    "przedsiebiorstwa_spoleczne": "przedsiębiorstwa społeczne",
    "jst": "jednostki samorządu terytorialnego",
    "ngo": "organizacje pozarządowe",
    "koscioly": "kościoły i związki wyznaniowe",
    "owes": "ośrodki wsparcia ekonomii społecznej",
    "rynek_pracy": "instytucje rynku pracy i pomocy społecznej",
    "nauka": "nauka",
    "biznes": "biznes",
    "media": "media lokalne i regionalne",
}


def group_label(code: str) -> str:
    """The Polish label of a group code (the code itself for a group we do not know)."""
    return STAKEHOLDER_GROUPS.get(code, code)
