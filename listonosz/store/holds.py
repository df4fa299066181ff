"""Holds shared by every process on one store: a mail service asked us to wait.

A provider that answers 429 with ``Retry-After: 30`` means the account, not the one worker that
happened to ask: every worker sending through it must wait. Each transport keeps its own hold in
memory for its threads (``transports.http.Gate``); this table makes the hold reach the workers
of other processes and machines.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, select

from listonosz.store.engine import StoreHandle
from listonosz.store.ledger import _dialect, _now
from listonosz.store.schema import holds


class Holds(StoreHandle):
    """Moments before which nothing may be sent through a named mail service."""

    def hold(self, name: str, seconds: float) -> None:
        """Keep ``name`` back for ``seconds`` from now (never shortens a longer hold)."""
        until = _now() + dt.timedelta(seconds=seconds)
        insert = _dialect(self.engine).insert(holds).values(name=name, until=until)
        later = case(
            (holds.c.until < insert.excluded.until, insert.excluded.until), else_=holds.c.until
        )
        with self.engine.begin() as conn:
            conn.execute(
                insert.on_conflict_do_update(index_elements=["name"], set_={"until": later})
            )

    def remaining(self, name: str) -> float:
        """Seconds until ``name`` may send again; 0 when it is not held."""
        with self.engine.connect() as conn:
            until: dt.datetime | None = conn.scalar(
                select(holds.c.until).where(holds.c.name == name)
            )
        if until is None:
            return 0.0
        if until.tzinfo is None:  # SQLite gives it back without its zone
            until = until.replace(tzinfo=dt.UTC)
        return max(0.0, float((until - _now()).total_seconds()))

    def named(self, name: str) -> NamedHold:
        """The hold of one mail service, as a transport's gate takes it."""
        return NamedHold(self, name)


class NamedHold:
    """One service's shared hold: ``hold(seconds)`` and ``remaining()``."""

    def __init__(self, holds: Holds, name: str) -> None:
        self._holds, self.name = holds, name

    def hold(self, seconds: float) -> None:
        self._holds.hold(self.name, seconds)

    def remaining(self) -> float:
        return self._holds.remaining(self.name)
