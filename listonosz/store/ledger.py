"""The delivery ledger: one row per (campaign, message kind, recipient), claimed then settled.

A row is *claimed* (status ``sending``) by a run just before its message leaves and *settled*
(``sent``, ``failed`` or ``deferred``) right after. Planning skips settled rows, so a message is
never sent twice on purpose. Every run keeps a heartbeat in ``runs``; a ``sending`` row whose run
has stopped beating (a crash, a kill -9) is taken over by the next run, resent with the same
Message-ID, and counted as a possible duplicate. Each claim is a few atomic statements, so two
runs at once never win the same row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from listonosz.store.engine import StoreHandle
from listonosz.store.schema import deliveries, pauses, runs

SENDING, SENT, FAILED, DEFERRED = "sending", "sent", "failed", "deferred"
Status = Literal["sending", "sent", "failed", "deferred"]
SETTLED = (SENT, FAILED)

#: The ``kind`` of a pause that holds every message kind of its campaign.
ALL_KINDS = "*"

#: How long a run may go without a heartbeat before its claims count as abandoned.
DEFAULT_LEASE = dt.timedelta(seconds=60)


def delivery_key(campaign: str, kind: str, email: str) -> str:
    """The ledger key of one message to one person: stable, and free of personal data."""
    return hashlib.sha256(f"{campaign}\x1f{kind}\x1f{email}".encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Claim:
    """A row this run may now send: ``resent`` when an earlier run left it in flight."""

    key: str
    email: str
    resent: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one claimed message ended."""

    key: str
    status: Status
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One ledger row as readers outside sending see it."""

    key: str
    campaign: str
    kind: str
    email: str
    groups: str
    status: str
    message_id: str
    detail: str
    claimed_at: dt.datetime
    settled_at: dt.datetime | None
    outcome: str | None = None
    outcome_at: dt.datetime | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    """A time read back from the store, in UTC (SQLite gives it back without its zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A run's last sign of life in ``runs``."""

    at: dt.datetime
    finished: bool

    def alive(self, lease: dt.timedelta, now: dt.datetime | None = None) -> bool:
        """Still running: not finished, and beaten within ``lease``."""
        return not self.finished and (now or _now()) - self.at <= lease


class Ledger(StoreHandle):
    """Who got which message. SQLite by default; any SQLAlchemy URL (PostgreSQL) works.

    Shares its URL's engine with every other store handle; ``close()`` lets go of it.
    """

    def settled_emails(self, campaign: str, kind: str) -> set[str]:
        """Addresses whose message of this kind is settled as sent or failed for good."""
        query = select(deliveries.c.email).where(
            deliveries.c.campaign == campaign,
            deliveries.c.kind == kind,
            deliveries.c.status.in_(SETTLED),
        )
        with self.engine.connect() as conn:
            return set(conn.scalars(query))

    def sent_emails(self, campaign: str, kind: str) -> set[str]:
        """Addresses whose message of this kind was sent (handed over) in this campaign."""
        query = select(deliveries.c.email).where(
            deliveries.c.campaign == campaign,
            deliveries.c.kind == kind,
            deliveries.c.status == SENT,
        )
        with self.engine.connect() as conn:
            return set(conn.scalars(query))

    def delivery(self, key: str) -> Delivery | None:
        """The row of one delivery key, or None (never sent, or erased since)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(*_DELIVERY).where(deliveries.c.key == key)).first()
        return None if row is None else Delivery(**row._mapping)

    def deliveries_of(self, keys: Iterable[str]) -> dict[str, Delivery]:
        """The rows of these delivery keys that exist, by key, in one query (the web app looks
        up the deliveries of the unsubscribes that arrive together)."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(_BY_KEYS, {"keys": wanted}).all()
        return {row.key: Delivery(**row._mapping) for row in rows}

    def by_message_id(self, message_id: str) -> Delivery | None:
        """The row whose message carried this Message-ID (with or without angle brackets)."""
        query = select(*_DELIVERY).where(deliveries.c.message_id == _bracketed(message_id))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else Delivery(**row._mapping)

    def raise_outcome(self, key: str, outcome: str, at: dt.datetime, ranks: dict[str, int]) -> bool:
        """Set a delivery's outcome unless it already holds one that ranks as high (``ranks``:
        outcome → precedence); one statement, so events applied at once cannot undo each
        other. False when the outcome was kept."""
        current = case(
            *((deliveries.c.outcome == name, rank) for name, rank in ranks.items()),
            else_=-1,
        )
        query = (
            update(deliveries)
            .where(deliveries.c.key == key)
            .where(or_(deliveries.c.outcome.is_(None), current < ranks[outcome]))
            .values(outcome=outcome, outcome_at=at)
        )
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount > 0

    def deliveries(self, keys: Iterable[str]) -> dict[str, Delivery]:
        """The rows of these delivery keys (those that exist), by key: one query per 500."""
        wanted = sorted(set(keys))
        found: dict[str, Delivery] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                query = select(*_DELIVERY).where(deliveries.c.key.in_(chunk))
                for row in conn.execute(query):
                    found[row.key] = Delivery(**row._mapping)
        return found

    def by_message_ids(self, message_ids: Iterable[str]) -> dict[str, Delivery]:
        """The rows whose messages carried these Message-IDs, by the ID as given (with or
        without angle brackets)."""
        bracketed = {_bracketed(m): m for m in message_ids if m.strip()}
        wanted = sorted(bracketed)
        found: dict[str, Delivery] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                query = select(*_DELIVERY).where(deliveries.c.message_id.in_(chunk))
                for row in conn.execute(query):
                    found.setdefault(bracketed[row.message_id], Delivery(**row._mapping))
        return found

    def raise_outcomes(
        self,
        conn: Connection,
        changes: Iterable[tuple[str, str, dt.datetime]],
        ranks: dict[str, int],
    ) -> None:
        """:meth:`raise_outcome` for many ``(key, outcome, at)`` in the caller's transaction:
        one statement, executed for every row."""
        rows = [{"row": k, "to": o, "at": at, "rank": ranks[o]} for k, o, at in changes]
        if not rows:
            return
        current = case(
            *((deliveries.c.outcome == name, rank) for name, rank in ranks.items()),
            else_=-1,
        )
        statement = (
            update(deliveries)
            .where(deliveries.c.key == bindparam("row"))
            .where(or_(deliveries.c.outcome.is_(None), current < bindparam("rank")))
            .values(outcome=bindparam("to"), outcome_at=bindparam("at"))
        )
        conn.execute(statement, rows)

    def deliveries_to(self, email: str) -> list[Delivery]:
        """Every row of one (normalised) address, oldest first."""
        query = select(*_DELIVERY).where(deliveries.c.email == email)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(deliveries.c.claimed_at)).all()
        return [Delivery(**row._mapping) for row in rows]

    def forget(self, email: str) -> list[str]:
        """Delete every row of one address (erasure); returns their keys."""
        with self.engine.begin() as conn:
            keys = list(conn.scalars(select(deliveries.c.key).where(deliveries.c.email == email)))
            conn.execute(delete(deliveries).where(deliveries.c.email == email))
        return keys

    def beat(self, run_id: str, finished: bool = False) -> None:
        """Record that ``run_id`` is alive (or has finished); registers the run on first use."""
        now = _now()
        with self.engine.begin() as conn:
            self._beat(conn, run_id, now, finished)

    def _beat(self, conn: Connection, run_id: str, now: dt.datetime, finished: bool) -> None:
        values = {"heartbeat_at": now, **({"finished_at": now} if finished else {})}
        insert = _dialect(self.engine).insert(runs).values(run_id=run_id, started_at=now, **values)
        conn.execute(insert.on_conflict_do_update(index_elements=["run_id"], set_=values))

    def heartbeats(self, run_ids: Iterable[str]) -> dict[str, Heartbeat]:
        """The heartbeats of these runs that have beaten at least once, by run id."""
        wanted = sorted(set(run_ids))
        found: dict[str, Heartbeat] = {}
        query = select(runs.c.run_id, runs.c.heartbeat_at, runs.c.finished_at)
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                for run_id, beat, finished in conn.execute(query.where(runs.c.run_id.in_(chunk))):
                    found[run_id] = Heartbeat(_aware(beat), finished is not None)
        return found

    @contextmanager
    def lease(self, run_id: str, interval: float = 5.0) -> Iterator[None]:
        """Keep ``run_id`` alive with a heartbeat every ``interval`` seconds while inside."""
        self.beat(run_id)
        stop = threading.Event()

        def keep_beating() -> None:
            while not stop.wait(interval):
                with contextlib.suppress(Exception):  # a missed beat only shortens the lease
                    self.beat(run_id)

        thread = threading.Thread(target=keep_beating, name=f"lease-{run_id[:8]}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.beat(run_id, finished=True)

    def claim(
        self,
        campaign: str,
        kind: str,
        recipients: Sequence[tuple[str, str, str]],
        run_id: str,
        lease: dt.timedelta = DEFAULT_LEASE,
    ) -> list[Claim]:
        """Claim ``(email, groups, message_id)`` rows for ``run_id``; returns the rows it won.

        New rows are inserted as ``sending``. ``deferred`` rows are taken over, and so are
        ``sending`` rows left by this run (a retried task) or by a run that has finished or not
        beaten for ``lease``: those are marked ``resent``, as their message may have left.
        """
        now = _now()
        keys = {delivery_key(campaign, kind, email): email for email, _, _ in recipients}
        rows = [
            {
                "key": key,
                "campaign": campaign,
                "kind": kind,
                "email": email,
                "groups": groups,
                "status": SENDING,
                "attempts": 1,
                "takeovers": 0,
                "claim_token": run_id,
                "message_id": message_id,
                "detail": "",
                "claimed_at": now,
            }
            for (email, groups, message_id), key in zip(recipients, keys, strict=True)
        ]
        if not rows:
            return []
        abandoned_runs = select(runs.c.run_id).where(
            or_(runs.c.heartbeat_at < now - lease, runs.c.finished_at.is_not(None))
        )
        takeover = or_(
            deliveries.c.status == DEFERRED,
            and_(
                deliveries.c.status == SENDING,
                or_(
                    deliveries.c.claim_token == run_id,
                    deliveries.c.claim_token.in_(abandoned_runs),
                    deliveries.c.claim_token.not_in(select(runs.c.run_id)),
                ),
            ),
        )
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                # one claim of a campaign's message kind at a time: under READ COMMITTED the
                # takeover's view of ``runs`` predates a rival claim that commits meanwhile,
                # so both would win its rows. SQLite's write lock already serialises claims.
                conn.execute(select(func.pg_advisory_xact_lock(_claim_lock(campaign, kind))))
            self._beat(conn, run_id, now, finished=False)
            in_flight = set(
                conn.scalars(
                    select(deliveries.c.key).where(
                        deliveries.c.key.in_(keys), deliveries.c.status == SENDING
                    )
                )
            )
            conn.execute(
                update(deliveries)
                .where(deliveries.c.key.in_(keys), takeover)
                .values(
                    status=SENDING,
                    claim_token=run_id,
                    claimed_at=now,
                    attempts=deliveries.c.attempts + 1,
                    takeovers=deliveries.c.takeovers
                    + case((deliveries.c.status == SENDING, 1), else_=0),
                )
            )
            conn.execute(
                _dialect(self.engine)
                .insert(deliveries)
                .on_conflict_do_nothing(index_elements=["key"]),
                rows,
            )
            won = conn.execute(
                select(deliveries.c.key, deliveries.c.email).where(
                    deliveries.c.key.in_(keys),
                    deliveries.c.claim_token == run_id,
                    deliveries.c.status == SENDING,
                    deliveries.c.claimed_at == now,
                )
            )
            return [Claim(key, email, key in in_flight) for key, email in won]

    def settle(self, run_id: str, outcomes: Iterable[Outcome]) -> None:
        """Record how each claimed message ended; rows claimed by another run are left alone."""
        rows = [{"row": o.key, "to": o.status, "why": o.detail} for o in outcomes]
        if not rows:
            return
        statement = (
            update(deliveries)
            .where(deliveries.c.key == bindparam("row"), deliveries.c.claim_token == run_id)
            .values(status=bindparam("to"), detail=bindparam("why"), settled_at=_now())
        )
        with self.engine.begin() as conn:
            conn.execute(statement, rows)  # one statement, executed for every row

    def pause(self, campaign: str, kind: str = ALL_KINDS) -> bool:
        """Pause one message kind of a campaign, or all of them; False if it already was."""
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT that returns its key
        insert = (
            _dialect(self.engine)
            .insert(pauses)
            .on_conflict_do_nothing()
            .returning(pauses.c.campaign)
        )
        with self.engine.begin() as conn:
            done = conn.execute(insert, {"campaign": campaign, "kind": kind, "paused_at": _now()})
            return done.first() is not None

    def resume(self, campaign: str, kind: str = ALL_KINDS) -> bool:
        """Lift a pause set with the same arguments; False if there was none."""
        statement = pauses.delete().where(pauses.c.campaign == campaign, pauses.c.kind == kind)
        with self.engine.begin() as conn:
            return conn.execute(statement).rowcount > 0

    def paused(self, campaign: str, kind: str) -> dt.datetime | None:
        """Since when this message kind is paused (by itself or with its whole campaign)."""
        query = select(func.min(pauses.c.paused_at)).where(
            pauses.c.campaign == campaign, pauses.c.kind.in_((kind, ALL_KINDS))
        )
        with self.engine.connect() as conn:
            since: dt.datetime | None = conn.scalar(query)
            return since

    def status_counts(self, campaign: str, kind: str) -> Counter[str]:
        """How many rows of this campaign's message kind are in each status."""
        query = (
            select(deliveries.c.status, func.count())
            .where(deliveries.c.campaign == campaign, deliveries.c.kind == kind)
            .group_by(deliveries.c.status)
        )
        with self.engine.connect() as conn:
            return Counter(dict(conn.execute(query).all()))

    def possible_duplicates(self, campaign: str, kind: str) -> int:
        """Messages that may have reached their recipient twice: rows ever taken over."""
        query = select(func.count()).where(
            deliveries.c.campaign == campaign,
            deliveries.c.kind == kind,
            deliveries.c.takeovers > 0,
        )
        with self.engine.connect() as conn:
            return conn.scalar(query) or 0

    def tally_of_runs(self, campaign: str, kind: str, prefix: str) -> tuple[Counter[str], int]:
        """Rows of this message kind last claimed by runs whose id starts with ``prefix`` (the
        jobs of one coordinated run): how many are in each status, and how many of them were
        taken over (possible duplicates)."""
        mine = deliveries.c.claim_token.startswith(prefix, autoescape=True)
        where = (deliveries.c.campaign == campaign, deliveries.c.kind == kind, mine)
        query = select(deliveries.c.status, func.count()).where(*where)
        taken = select(func.count()).where(*where, deliveries.c.takeovers > 0)
        with self.engine.connect() as conn:
            rows = conn.execute(query.group_by(deliveries.c.status)).all()
            counts: Counter[str] = Counter({status: count for status, count in rows})
            return counts, conn.scalar(taken) or 0

    def group_counts(self, campaign: str, kind: str) -> dict[str, Counter[str]]:
        """Per stakeholder group, how many rows are in each status (a person counts per group)."""
        query = select(deliveries.c.groups, deliveries.c.status).where(
            deliveries.c.campaign == campaign, deliveries.c.kind == kind
        )
        table: dict[str, Counter[str]] = {}
        with self.engine.connect() as conn:
            for groups, status in conn.execute(query):
                for group in groups.split(";") if groups else ["—"]:
                    table.setdefault(group, Counter())[status] += 1
        return table


_DELIVERY = (
    deliveries.c.key,
    deliveries.c.campaign,
    deliveries.c.kind,
    deliveries.c.email,
    deliveries.c.groups,
    deliveries.c.status,
    deliveries.c.message_id,
    deliveries.c.detail,
    deliveries.c.claimed_at,
    deliveries.c.settled_at,
    deliveries.c.outcome,
    deliveries.c.outcome_at,
)


#: Keys per ``IN (…)`` list: well under every database's limit on bound parameters.
_IN_CHUNK = 500


def _bracketed(message_id: str) -> str:
    """A Message-ID as the ledger keeps it: in angle brackets."""
    wanted = message_id.strip()
    return wanted if wanted.startswith("<") else f"<{wanted}>"


def _claim_lock(campaign: str, kind: str) -> int:
    """The PostgreSQL advisory lock key (a signed 64-bit integer) of claims of one kind."""
    digest = hashlib.sha256(f"claim\x1f{campaign}\x1f{kind}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _dialect(engine: Engine) -> ModuleType:
    """The dialect module whose ``insert`` has ``on_conflict_do_…`` (SQLite or PostgreSQL)."""
    return postgresql if engine.dialect.name == "postgresql" else sqlite


#: The rows of some keys; built once (a statement made per call costs more than its query).
_BY_KEYS = select(*_DELIVERY).where(deliveries.c.key.in_(bindparam("keys", expanding=True)))
