"""The registration desk's check-in page over HTTP, and closing attendance from the CLI."""

from __future__ import annotations

import os
import subprocess

import httpx

from listonosz.campaign import load_campaign
from listonosz.config import Settings
from listonosz.sending import merge_audience
from listonosz.store import Participants
from tests.conftest import LISTONOSZ, Website


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISTONOSZ, *args], env=os.environ.copy(), capture_output=True, text=True, timeout=120
    )


def test_the_desk_finds_a_person_marks_them_present_and_closing_stops_it(
    website: Website,
) -> None:
    link = _cli("attendance", "link", str(website.campaign))
    assert link.returncode == 0, link.stderr
    url = link.stdout.strip()
    assert url.startswith(f"{website.url}/checkin/")
    person = merge_audience(load_campaign(website.campaign)).contacts[0]
    # typed as a desk would: lower case, no Polish letters, part of the last name
    typed = person.last_name.lower().replace("ł", "l").replace("ń", "n")[:4]

    with httpx.Client(follow_redirects=False) as client:
        page = client.get(url, params={"q": typed})
        assert page.status_code == 200
        assert person.full_name in page.text
        assert "@" not in page.text  # names and organisations only
        handle = page.text.split('name="person" value="', 1)[1].split('"', 1)[0]
        marked = client.post(url, data={"person": handle, "q": typed})
        assert marked.status_code == 303
        after = client.get(website.url + marked.headers["location"])
        assert "Zapisano obecność" in after.text and "Obecny/obecna ✓" in after.text
        assert client.post(url, data={"person": "forged", "q": ""}).status_code == 400
        assert client.get(url.replace("/checkin/", "/checkin/x")).status_code == 404

    settings = Settings()
    with Participants(settings.resolved_ledger_url) as people:
        states = {p.email: p for p in people.of_campaign("ekonomia-spoleczna-2016")}
    marked_person = [p for p in states.values() if p.attended == "attended"]
    assert len(marked_person) >= 1
    assert all(p.attended_source == "checkin" for p in marked_person)

    closed = _cli("attendance", "close", str(website.campaign))
    assert closed.returncode == 0 and "is closed" in closed.stdout, closed.stderr
    again = _cli("attendance", "close", str(website.campaign))
    assert "already closed" in again.stdout
    refused = httpx.post(url, data={"person": handle, "q": typed})
    assert refused.status_code == 409
