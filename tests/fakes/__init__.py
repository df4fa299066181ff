"""Local fakes of the mail APIs Listonosz sends through, one per provider (see server.py)."""

from __future__ import annotations

from tests.fakes.brevo import FakeBrevo
from tests.fakes.mailgun import FakeMailgun
from tests.fakes.postmark import FakePostmark
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.server import API_KEY, FakeApi, Hit, Received

FAKES: dict[str, type[FakeApi]] = {
    "postmark": FakePostmark,
    "sendgrid": FakeSendGrid,
    "mailgun": FakeMailgun,
    "brevo": FakeBrevo,
}

__all__ = ["API_KEY", "FAKES", "FakeApi", "Hit", "Received"]
