"""The after-sending report from the store, on SQLite and PostgreSQL: counts per stakeholder
group and per mailbox provider exactly as the events say, the complaint rate flagged, the
workbook readable by pandas with the same numbers, and the chart drawn."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from listonosz.reports import (
    delivery_frame,
    for_staff,
    provider_of,
    summary,
    write_chart,
    write_xlsx,
)
from listonosz.store import Ledger, Outcome, Participants
from listonosz.tracking import TrackedEvent, Tracker

SECRET = b"test installation secret"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
OWN = frozenset({"rops-bialystok.example"})
# address, groups
PEOPLE = [
    ("a@gmail.com", "ngo"),
    ("b@wp.pl", "ngo;jst"),
    ("c@onet.pl", "jst"),
    ("d@interia.pl", "jst"),
    ("e@o2.pl", "media"),
    ("f@outlook.com", "media"),
    ("g@rops-bialystok.example", "owes"),
    ("h@gmina.example.pl", "jst"),
]


def _event(n: int, kind: str, key: str, cls: str | None = None) -> TrackedEvent:
    return TrackedEvent("postmark", f"p{n}", kind, T0, key, bounce_class=cls)  # type: ignore[arg-type]


def test_counts_per_group_and_provider_match_the_events(store_url: str, tmp_path: Path) -> None:
    with Ledger(store_url) as ledger:
        rows = [(email, groups, f"<{n}@x>") for n, (email, groups) in enumerate(PEOPLE)]
        claims = ledger.claim("c", "invitation", rows, "run", dt.timedelta(seconds=60))
        key = {c.email: c.key for c in claims}
        ledger.settle("run", [Outcome(k, "sent") for k in key.values()])
    events = [
        _event(1, "delivered", key["a@gmail.com"]),
        _event(2, "delivered", key["b@wp.pl"]),
        _event(3, "complained", key["b@wp.pl"]),
        _event(4, "bounced", key["c@onet.pl"], "hard"),
        _event(5, "bounced", key["d@interia.pl"], "soft"),
        _event(6, "delivered", key["e@o2.pl"]),
        _event(7, "unsubscribed", key["e@o2.pl"]),
        _event(8, "bounced", key["f@outlook.com"], "block"),
        _event(9, "delivered", key["g@rops-bialystok.example"]),
        _event(10, "delivered", key["c@onet.pl"]),  # late: keeps the bounce
    ]
    with Tracker(store_url, SECRET) as tracker:
        tracker.apply(events)
    with Participants(store_url) as people:
        people.answer("c", "a@gmail.com", "yes", "web", T0)
        people.answer("c", "b@wp.pl", "no", "web", T0)
    with Ledger(store_url) as store:
        frame = delivery_frame(store.engine, "c", "invitation", OWN)

    groups = summary(frame, "group")
    ngo = groups.loc["organizacje pozarządowe"]
    assert (ngo["sent"], ngo["delivered"], ngo["complaints"], ngo["yes"], ngo["no"]) == (
        2,
        2,
        1,
        1,
        1,
    )
    local = groups.loc["jednostki samorządu terytorialnego"]  # b@ is in two groups: in both
    assert (local["sent"], local["hard"], local["soft"], local["complaints"]) == (4, 1, 1, 1)
    total = groups.loc["Razem"]
    assert (total["sent"], total["delivered"], total["hard"], total["soft"], total["block"]) == (
        8,
        4,  # a, b, e, g: c's late "delivered" does not undo its bounce
        1,
        1,
        1,
    )
    assert (total["complaints"], total["unsubscribed"]) == (1, 1)
    assert total["complaint_flag"] == "przekroczony próg 0,3%"  # 1 of 8
    providers = summary(frame, "provider")
    assert providers.loc["Gmail", "delivered"] == 1
    assert providers.loc["WP", "complaints"] == 1
    assert providers.loc["Onet", "hard"] == 1 and providers.loc["Onet", "delivered"] == 0
    assert providers.loc["Interia", "soft"] == 1
    assert providers.loc["Outlook", "block"] == 1
    assert providers.loc["własna domena", "delivered"] == 1
    assert providers.loc["inne", "sent"] == 1

    workbook = tmp_path / "raport.xlsx"
    write_xlsx({"Grupy": for_staff(groups), "Dostawcy poczty": for_staff(providers)}, workbook)
    read = pd.read_excel(workbook, sheet_name=None, index_col=0)
    assert int(read["Grupy"].loc["Razem", "Wysłane"]) == 8
    assert int(read["Dostawcy poczty"].loc["WP", "Skargi na spam"]) == 1
    assert read["Grupy"].loc["Razem", "Wskaźnik skarg"] == "12,50%"
    chart = tmp_path / "raport.png"
    write_chart(groups, "Seminarium: zaproszenie", chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_providers_by_domain() -> None:
    assert provider_of("Jan@GoogleMail.com") == "Gmail"
    assert provider_of("x@poczta.onet.pl") == "Onet"
    assert provider_of("x@um.bialystok.pl", frozenset({"bialystok.pl"})) == "własna domena"
    assert provider_of("x@gmina.example.pl") == "inne"
