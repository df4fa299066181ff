"""The recipient's side over real HTTP: messages sent by the flow, their links answered by
``listonosz serve`` in its own process, the store checked after each step."""

from __future__ import annotations

import email
import email.policy
import re

import httpx
import pytest

from flows.campaign import send_campaign
from listonosz.config import Settings
from listonosz.store import EventLog, Participants, SuppressionList
from tests.conftest import Capture, Website

pytestmark = pytest.mark.usefixtures("prefect_server")

CAMPAIGN_ID = "ekonomia-spoleczna-2016"


def _messages(capture: Capture) -> dict[str, email.message.EmailMessage]:
    """The captured messages by recipient address."""
    found = {}
    for path in capture.messages():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        found[message["To"].addresses[0].addr_spec] = message
    return found


def _one_click_url(message: email.message.EmailMessage) -> str:
    match = re.search(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"]))
    assert match, message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return match.group(1)


def _rsvp_urls(message: email.message.EmailMessage) -> list[str]:
    body = message.get_body(("plain",))
    assert body is not None
    return re.findall(r"https?://\S+/r/\S+", body.get_content())


def _store() -> tuple[EventLog, Participants, SuppressionList]:
    settings = Settings()
    url = settings.resolved_ledger_url
    return EventLog(url), Participants(url), SuppressionList(url, settings.signing_secret())


def test_one_click_unsubscribe_as_gmail_does_it(website: Website, capture: Capture) -> None:
    assert send_campaign(str(website.campaign), "invitation")["sent"] == 5
    messages = _messages(capture)
    person, message = sorted(messages.items())[0]
    url = _one_click_url(message)
    assert url.startswith(website.url)
    assert person not in url

    log, people, suppressions = _store()
    try:
        # a link scanner fetching the URL changes nothing
        page = httpx.get(url)
        assert page.status_code == 200
        assert "Czy na pewno chcesz się wypisać?" in page.text
        assert person not in page.text
        assert suppressions.lookup(person) is None

        # what Gmail sends: multipart/form-data, one field, no cookies
        first = httpx.post(url, files={"List-Unsubscribe": (None, "One-Click")})
        assert first.status_code == 200
        assert person not in first.text
        entry = suppressions.lookup(person)
        assert entry is not None
        assert (entry.reason, entry.scope, entry.source) == ("unsubscribed", "all", "web")
        events = log.of_type("unsubscribed", CAMPAIGN_ID)
        assert len(events) == 1
        assert events[0].source == "web"
        assert events[0].detail["how"] == "one-click"

        # the same POST again, and the urlencoded form: 200, nothing changes
        again = httpx.post(url, files={"List-Unsubscribe": (None, "One-Click")})
        form = httpx.post(url, data={"List-Unsubscribe": "One-Click"})
        assert (again.status_code, form.status_code) == (200, 200)
        assert suppressions.lookup(person) == entry
        assert len(log.of_type("unsubscribed", CAMPAIGN_ID)) == 1
        assert httpx.get(url).status_code == 200
        assert suppressions.lookup(person) == entry
    finally:
        for handle in (log, people, suppressions):
            handle.close()

    # a later message of another kind skips that person
    for path in capture.messages():
        path.unlink()
    assert send_campaign(str(website.campaign), "reminder")["sent"] == 4
    assert person not in _messages(capture)
    assert token_free(website.log.read_text(), url)


def token_free(log: str, url: str) -> bool:
    """Whether the server's log shows requests but no token and no address."""
    token = url.rsplit("/", 1)[1]
    return "/u/…" in log and token not in log and "@" not in log


def test_rsvp_yes_then_no_over_http(website: Website, capture: Capture) -> None:
    assert send_campaign(str(website.campaign), "invitation")["sent"] == 5
    person, message = sorted(_messages(capture).items())[1]
    yes_url, no_url = _rsvp_urls(message)
    assert "/r/" in yes_url and person not in yes_url

    with httpx.Client(follow_redirects=False) as client:
        page = client.get(yes_url)
        assert page.status_code == 200
        assert "Tak, będę" in page.text and "Nie mogę" in page.text
        assert person not in page.text

        answered = client.post(yes_url, data={"answer": "yes"})
        assert answered.status_code == 303
        shown = client.get(answered.headers["location"].replace("/r/", f"{website.url}/r/", 1))
        assert "Zapisaliśmy, że Państwo będą" in shown.text
        assert ".ics" in shown.text and "calendar.google.com" in shown.text
        ics = client.get(f"{yes_url}/wydarzenie.ics")
        assert ics.status_code == 200 and b"BEGIN:VEVENT" in ics.content

        again = client.post(yes_url, data={"answer": "yes"})  # twice: harmless
        assert again.status_code == 303
        changed = client.post(no_url, data={"answer": "no"})
        assert changed.status_code == 303

    log, people, suppressions = _store()
    try:
        state = people.get(CAMPAIGN_ID, person)
        assert state is not None
        assert (state.answer, state.answer_source) == ("no", "web")
        answers = [e.detail["answer"] for e in log.of_type("answered", CAMPAIGN_ID)]
        assert answers == ["yes", "no"]
    finally:
        for handle in (log, people, suppressions):
            handle.close()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/u/nonsense", 404),
        ("GET", "/u/eyJwIjoidW5zdWJzY3JpYmUifQ.AAAAAAAAAAAAAAAAAAAAAA", 404),
        ("GET", "/r/%F0%9F%92%A9%00%ff.%2e%2e", 404),
        ("GET", "/%C4%85%C4%99/../../etc/passwd", 404),
        ("POST", "/u/abc.def", 404),
        ("PUT", "/u/abc.def", 405),
        ("GET", "/r/", 404),
    ],
)
def test_bad_links_get_a_page_that_reveals_nothing(
    website: Website, method: str, path: str, status: int
) -> None:
    answer = httpx.request(method, website.url + path)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert "@" not in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_tokens_only_work_for_their_purpose_and_unchanged(
    website: Website, capture: Capture
) -> None:
    assert send_campaign(str(website.campaign), "invitation")["sent"] == 5
    message = sorted(_messages(capture).items())[2][1]
    unsubscribe = _one_click_url(message)
    yes_url = _rsvp_urls(message)[0]
    token = unsubscribe.rsplit("/", 1)[1]
    swapped = yes_url.replace("/r/", "/u/")  # an RSVP token on the unsubscribe route
    tampered = unsubscribe[:-3] + ("AAA" if not unsubscribe.endswith("AAA") else "BBB")
    truncated = unsubscribe[: -len(token) // 2]
    for url in (swapped, tampered, truncated, unsubscribe.replace("/u/", "/r/")):
        assert httpx.get(url).status_code == 404, url
        assert httpx.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    log, people, suppressions = _store()
    try:
        assert suppressions.entries() == []
        assert log.of_type("unsubscribed") == []
    finally:
        for handle in (log, people, suppressions):
            handle.close()


def test_oversized_and_malformed_bodies_are_refused_early(
    website: Website, capture: Capture
) -> None:
    assert send_campaign(str(website.campaign), "invitation")["sent"] == 5
    url = _one_click_url(sorted(_messages(capture).items())[3][1])
    big = httpx.post(url, content=b"a" * (10 * 1024 * 1024), headers={"content-type": "text/plain"})
    assert big.status_code == 413

    def chunks() -> object:
        for _ in range(200):
            yield b"List-Unsubscribe=One-Click&" * 100

    streamed = httpx.post(
        url, content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413
    for body, kind in [
        (b"\xff\xfe\x00junk", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"", "application/json"),
        (b"scope=everything", "application/x-www-form-urlencoded"),
    ]:
        answer = httpx.post(url, content=body, headers={"content-type": kind})
        assert answer.status_code == 400, (body, answer.status_code)
    log, people, suppressions = _store()
    try:
        assert suppressions.entries() == []  # nothing of it unsubscribed anyone
    finally:
        for handle in (log, people, suppressions):
            handle.close()
