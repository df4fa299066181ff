"""Local fakes of the mail APIs Listonosz sends through, one per provider (see server.py)."""

from __future__ import annotations

from tests.providers.brevo import FakeBrevo
from tests.providers.mailgun import FakeMailgun
from tests.providers.postmark import FakePostmark
from tests.providers.sendgrid import FakeSendGrid
from tests.providers.server import API_KEY, FakeApi, Hit, Received

FAKES: dict[str, type[FakeApi]] = {
    "postmark": FakePostmark,
    "sendgrid": FakeSendGrid,
    "mailgun": FakeMailgun,
    "brevo": FakeBrevo,
}

__all__ = ["API_KEY", "FAKES", "FakeApi", "Hit", "Received"]
