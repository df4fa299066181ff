"""What happened to a campaign's messages, per stakeholder group or per mailbox provider.

One row per delivery (its group(s), provider, status, outcome, bounce class, complaint,
unsubscribe, RSVP answer) read from the store into a DataFrame, then counted by group or
provider with the complaint rate flagged at Gmail's and Yahoo's thresholds (0.1 %: look at
it; 0.3 %: mail from the domain is at risk).
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from sqlalchemy import Engine, select

from listonosz.contacts.groups import group_label
from listonosz.reports.providers import provider_of
from listonosz.store.schema import deliveries, events, participants

By = Literal["group", "provider"]

#: Complaint rates that Gmail and Yahoo watch: above the first, look; at the second, act.
WARN_RATE, LIMIT_RATE = 0.001, 0.003

#: The report's columns, as staff read them (Polish).
COLUMNS = {
    "sent": "Wysłane",
    "delivered": "Dostarczone",
    "hard": "Odbicia trwałe",
    "soft": "Odbicia przejściowe",
    "block": "Blokady (5.7.x)",
    "complaints": "Skargi na spam",
    "complaint_rate": "Wskaźnik skarg",
    "complaint_flag": "Ocena wskaźnika skarg",
    "unsubscribed": "Wypisania",
    "yes": "Odpowiedzi: tak",
    "no": "Odpowiedzi: nie",
}
DELIVERED = ("delivered", "autoresponded", "opened", "clicked", "unsubscribed", "complained")


def delivery_frame(
    engine: Engine, campaign: str, kind: str | None, own_domains: frozenset[str]
) -> pd.DataFrame:
    """One row per delivery of ``campaign`` (one ``kind``, or all), with what became of it."""
    rows = select(
        deliveries.c.key,
        deliveries.c.kind,
        deliveries.c.email,
        deliveries.c.groups,
        deliveries.c.status,
        deliveries.c.outcome,
    ).where(deliveries.c.campaign == campaign)
    if kind is not None:
        rows = rows.where(deliveries.c.kind == kind)
    happened = select(events.c.delivery_key, events.c.type, events.c.bounce_class).where(
        events.c.campaign == campaign
    )
    answers = select(participants.c.email, participants.c.answer).where(
        participants.c.campaign == campaign
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(rows).all(), columns=list(rows.selected_columns.keys()))
        seen = pd.DataFrame(conn.execute(happened).all(), columns=["key", "type", "cls"])
        answered = pd.DataFrame(conn.execute(answers).all(), columns=["email", "answer"])
    frame["classes"] = _sets(frame["key"], seen[seen["type"] == "bounced"], "cls")
    frame["types"] = _sets(frame["key"], seen, "type")
    frame["provider"] = [provider_of(e, own_domains) for e in frame["email"]]
    frame["answer"] = frame["email"].map(answered.set_index("email")["answer"])
    return frame


def _sets(keys: pd.Series, seen: pd.DataFrame, column: str) -> pd.Series:
    """For each delivery key, the set of ``column`` values its events have (empty if none)."""
    found: dict[str, set[str]] = {}
    for key, value in zip(seen["key"], seen[column], strict=True):
        if isinstance(value, str):
            found.setdefault(key, set()).add(value)
    return keys.map(lambda key: found.get(key, set()))


def summary(frame: pd.DataFrame, by: By) -> pd.DataFrame:
    """Counts per group or provider (and a total row), the columns of :data:`COLUMNS`."""
    facts = pd.DataFrame(
        {
            "sent": frame["status"] == "sent",
            "delivered": frame["outcome"].isin(DELIVERED),
            "hard": frame["classes"].apply(lambda c: "hard" in c)
            | frame["outcome"].isin(("rejected", "failed")),
            "soft": frame["classes"].apply(
                lambda c: bool(c & {"soft", "expired"}) and "hard" not in c
            ),
            "block": frame["classes"].apply(lambda c: "block" in c),
            "complaints": frame["types"].apply(lambda t: "complained" in t),
            "unsubscribed": frame["types"].apply(lambda t: "unsubscribed" in t),
            "yes": frame["answer"] == "yes",
            "no": frame["answer"] == "no",
        }
    )
    if by == "group":
        keys = frame["groups"].apply(
            lambda g: [group_label(x) for x in g.split(";") if x] or ["(bez grupy)"]
        )
    else:
        keys = frame["provider"].apply(lambda p: [p])
    facts["key"] = keys
    exploded = facts.explode("key")  # a person in two groups counts in both
    counted = exploded.groupby("key").sum(numeric_only=True).astype(int)
    counted.loc["Razem"] = facts.drop(columns="key").sum(numeric_only=True).astype(int)
    sent = counted["sent"].where(counted["sent"] > 0)
    counted["complaint_rate"] = (counted["complaints"] / sent).fillna(0.0)
    counted["complaint_flag"] = counted["complaint_rate"].apply(_flag)
    counted = counted[list(COLUMNS)]
    counted.index.name = "Grupa" if by == "group" else "Dostawca poczty"
    return counted


def _flag(rate: float) -> str:
    if rate >= LIMIT_RATE:
        return "przekroczony próg 0,3%"
    if rate >= WARN_RATE:
        return "powyżej 0,1%: do obserwacji"
    return "w normie"


def for_staff(table: pd.DataFrame) -> pd.DataFrame:
    """The table with Polish column names and the rate as a percentage."""
    shown = table.copy()
    shown["complaint_rate"] = shown["complaint_rate"].map(lambda r: f"{r:.2%}".replace(".", ","))
    return shown.rename(columns=COLUMNS)
