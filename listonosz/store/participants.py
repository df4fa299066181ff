"""Participants: per campaign and person, the RSVP answer and attendance, with when and where
each came from (the web page, staff, an import, the check-in desk)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from listonosz.store.engine import StoreHandle
from listonosz.store.schema import attendance_closures, participants

Answer = Literal["yes", "no"]
ANSWERS: tuple[str, ...] = get_args(Answer)
Attendance = Literal["attended", "absent"]
ATTENDANCE: tuple[str, ...] = get_args(Attendance)


@dataclass(frozen=True, slots=True)
class Participant:
    """One person's state in one campaign (``None``: nothing known yet)."""

    campaign: str
    email: str
    answer: str | None = None
    answered_at: dt.datetime | None = None
    answer_source: str | None = None
    attended: str | None = None
    attended_at: dt.datetime | None = None
    attended_source: str | None = None


class Participants(StoreHandle):
    """Read and change participants' answers and attendance, and close attendance."""

    def get(self, campaign: str, email: str) -> Participant | None:
        """The person's state in ``campaign``, or None when they never answered."""
        query = select(participants).where(
            participants.c.campaign == campaign, participants.c.email == email
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else Participant(**row._mapping)

    def answer(
        self, campaign: str, email: str, answer: str, source: str, at: dt.datetime
    ) -> Participant:
        """Record an answer (``yes`` or ``no``), replacing any earlier one."""
        if answer not in ANSWERS:
            raise ValueError(f"an answer is one of {ANSWERS}, not {answer!r}")
        return self._set(
            campaign, email, {"answer": answer, "answered_at": at, "answer_source": source}
        )

    def of_person(self, email: str) -> list[Participant]:
        """Every campaign's state of one person."""
        query = select(participants).where(participants.c.email == email)
        with self.engine.connect() as conn:
            return [Participant(**row._mapping) for row in conn.execute(query)]

    def of_campaign(self, campaign: str) -> list[Participant]:
        """Everyone's state in one campaign."""
        query = select(participants).where(participants.c.campaign == campaign)
        with self.engine.connect() as conn:
            return [Participant(**row._mapping) for row in conn.execute(query)]

    def attend(
        self, campaign: str, email: str, attended: str, source: str, at: dt.datetime
    ) -> Participant:
        """Record attendance (``attended`` or ``absent``), replacing any earlier record."""
        if attended not in ATTENDANCE:
            raise ValueError(f"attendance is one of {ATTENDANCE}, not {attended!r}")
        return self._set(
            campaign, email, {"attended": attended, "attended_at": at, "attended_source": source}
        )

    def _set(self, campaign: str, email: str, values: dict[str, object]) -> Participant:
        """Update the person's row with ``values``, or make it."""
        key = (participants.c.campaign == campaign) & (participants.c.email == email)
        with self.engine.begin() as conn:
            changed = conn.execute(update(participants).where(key).values(**values)).rowcount
            if not changed:
                conn.execute(participants.insert().values(campaign=campaign, email=email, **values))
        found = self.get(campaign, email)
        assert found is not None
        return found

    def close_attendance(self, campaign: str, source: str, at: dt.datetime) -> bool:
        """Declare attendance final; False when it already was."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    attendance_closures.insert().values(
                        campaign=campaign, closed_at=at, source=source
                    )
                )
        except IntegrityError:
            return False
        return True

    def attendance_closed(self, campaign: str) -> dt.datetime | None:
        """When attendance was closed, or None."""
        query = select(attendance_closures.c.closed_at).where(
            attendance_closures.c.campaign == campaign
        )
        with self.engine.connect() as conn:
            closed = conn.scalar(query)
        if closed is not None and closed.tzinfo is None:
            closed = closed.replace(tzinfo=dt.UTC)
        return closed

    def forget(self, email: str) -> int:
        """Delete every row of this person (erasure); returns how many."""
        with self.engine.begin() as conn:
            return conn.execute(delete(participants).where(participants.c.email == email)).rowcount
