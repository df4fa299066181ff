"""The recipient's side in a real browser: headless Chromium (the machine's own, driven by
Playwright) opens a sent invitation, follows its links to ``listonosz serve``, answers, changes
the answer and unsubscribes, as a person would; axe-core checks every page it sees.

``pytest tests/e2e/test_web_browser.py --screenshots docs`` (``make screenshots``) also writes
the pages' screenshots at 375 and 1280 px to ``docs/`` for the README.
"""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route, sync_playwright

from flows.campaign import send_campaign
from listonosz.config import Settings
from listonosz.render.screenshot import find_chromium
from listonosz.store import EventLog, Participants, SuppressionList
from tests.conftest import LISTONOSZ, REPO, Capture, Website, unavailable

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

CAMPAIGN_ID = "ekonomia-spoleczna-2016"
#: The widths of the screenshots: a small phone, a laptop.
SHOTS = (375, 1280)
#: The widths the pages are checked at: WCAG 2.1's reflow width (320 CSS px) too.
CHECKED = (320, *SHOTS)
#: axe-core impacts that fail the test (moderate and minor ones are printed).
FAILING = {"serious", "critical"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (or ``LISTONOSZ_CHROMIUM``) under Playwright; no browser download."""
    binary = find_chromium()
    if binary is None:
        unavailable(
            "Chromium is not installed: run scripts/setup-system.sh as root "
            "(`make test` runs it), or `apt-get install chromium`"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=binary)
        try:
            yield chromium
        finally:
            chromium.close()


class Visit:
    """One browser tab on the website: checks each page it reaches and keeps screenshots."""

    def __init__(self, page: Page, site: str, shots: Path) -> None:
        self.page = page
        self.site = site
        self.shots = shots
        self.axe = Axe()
        self.elsewhere: list[str] = []
        page.context.route("**/*", self._only_the_site)

    def _only_the_site(self, route: Route) -> None:
        """Requests stay on the site (the sent message may name others: they are refused)."""
        url = route.request.url
        if url.startswith(self.site + "/") or url.startswith(("about:", "data:")):
            route.continue_()
        else:
            if self.page.url.startswith(self.site):
                self.elsewhere.append(url)
            route.abort()

    def check(self, name: str, shoot: bool = True) -> None:
        """The page at each width: no serious axe violation, nothing wider than the screen,
        no script, nothing fetched from elsewhere; with ``shoot``, a full-page screenshot
        ``web-NAME-W.png`` at 375 and 1280 px, nothing focused."""
        page = self.page
        assert page.evaluate("document.documentElement.lang") == "pl"
        assert page.locator("script").count() == 0
        page.evaluate("document.activeElement && document.activeElement.blur()")
        for width in CHECKED:
            page.set_viewport_size({"width": width, "height": 800})
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"{name} is {wide}px wide in a {width}px window"
            result = self.axe.run(page).response
            ran = {kind: len(result[kind]) for kind in ("passes", "violations", "inapplicable")}
            assert result["testEngine"]["name"] == "axe-core", result["testEngine"]
            assert ran["passes"] >= 10 and sum(ran.values()) >= 50, ran  # axe really ran
            for violation in result["violations"]:
                print(f"axe {name} @{width}: {violation['impact']} {violation['id']}")
            serious = [v for v in result["violations"] if v["impact"] in FAILING]
            assert not serious, _report(name, width, serious)
            if shoot and width in SHOTS:
                page.screenshot(path=self.shots / f"web-{name}-{width}.png", full_page=True)
        page.set_viewport_size({"width": SHOTS[0], "height": 800})
        assert self.elsewhere == [], self.elsewhere

    def focus_ring(self) -> dict[str, str]:
        """Tab to the first control of the page's form: its outline as the browser draws it."""
        page = self.page
        page.locator("body").focus()
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("!!document.activeElement.closest('form')"):
                break
        style: dict[str, str] = page.evaluate(
            "(() => { const s = getComputedStyle(document.activeElement);"
            " return {tag: document.activeElement.tagName, style: s.outlineStyle,"
            " width: s.outlineWidth, color: s.outlineColor}; })()"
        )
        return style


def _report(name: str, width: int, violations: list[dict[str, Any]]) -> str:
    lines = [f"axe-core on {name} at {width}px:"]
    for violation in violations:
        lines.append(f"  {violation['impact']} {violation['id']}: {violation['help']}")
        lines += [f"    {node['html']}" for node in violation["nodes"]]
    return "\n".join(lines)


def _invitation(capture: Capture) -> tuple[str, str]:
    """The first captured message's recipient and HTML body, as their mail client shows it."""
    path = capture.messages()[0]
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    html = message.get_body(("html",))
    assert html is not None
    return message["To"].addresses[0].addr_spec, html.get_content()


def test_a_recipient_answers_changes_and_unsubscribes_in_chromium(
    browser: Browser, website: Website, capture: Capture, prefect_server: str, shots: Path
) -> None:
    assert send_campaign(str(website.campaign), "invitation")["sent"] == 5
    person, message = _invitation(capture)
    context = browser.new_context(viewport={"width": SHOTS[0], "height": 800}, locale="pl-PL")
    visit = Visit(context.new_page(), website.url, shots)
    page = visit.page

    # the invitation, then its "yes" button: the page suggests yes and records nothing yet
    page.set_content(message)
    page.get_by_role("link", name="Tak, wezmę udział").click()
    page.wait_for_url(f"{website.url}/r/**")
    assert person not in page.content()
    assert page.get_by_text("Nie otrzymaliśmy jeszcze Państwa odpowiedzi").is_visible()
    ring = visit.focus_ring()
    assert (ring["tag"], ring["style"]) == ("BUTTON", "solid"), ring
    assert float(ring["width"].removesuffix("px")) >= 2, ring
    visit.check("rsvp")
    people = Participants(Settings().resolved_ledger_url)
    try:
        assert people.get(CAMPAIGN_ID, person) is None
    finally:
        people.close()

    page.get_by_role("button", name="Tak, będę").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text().startswith("Dziękujemy! Zapisaliśmy")
    assert page.get_by_role("link", name="Pobierz plik kalendarza (.ics)").is_visible()
    visit.check("rsvp-yes")

    page.get_by_role("button", name="Nie mogę").click()
    page.wait_for_load_state()
    assert "nie mogą Państwo przyjść" in page.get_by_role("status").inner_text()
    assert page.get_by_role("button", name="Tak, będę").is_visible()  # can change back
    visit.check("rsvp-no", shoot=False)

    # back to the message, its unsubscribe link: a question first, then the answer
    page.set_content(message)
    page.get_by_role("link", name="Wypisz się z listy").click()
    page.wait_for_url(f"{website.url}/u/**")
    assert page.get_by_text("Czy na pewno chcesz się wypisać?").is_visible()
    everything = "Ze wszystkich wiadomości, które wysyła Regionalny Ośrodek Polityki Społecznej"
    assert page.get_by_label(everything).is_checked()
    ring = visit.focus_ring()
    assert (ring["tag"], ring["style"]) == ("INPUT", "solid"), ring
    visit.check("unsubscribe")
    page.get_by_role("button", name="Wypisz mnie").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text().startswith("Gotowe: wypisaliśmy Państwa")
    assert person not in page.content()
    visit.check("unsubscribed")
    page.goto(f"{website.url}/u/nonsense")  # the page of every bad link
    assert page.get_by_role("heading", level=1).inner_text() == "Nie znaleziono strony"
    visit.check("not-found", shoot=False)
    context.close()

    settings = Settings()
    url = settings.resolved_ledger_url
    log, people = EventLog(url), Participants(url)
    suppressions = SuppressionList(url, settings.signing_secret())
    try:
        state = people.get(CAMPAIGN_ID, person)
        assert state is not None and (state.answer, state.answer_source) == ("no", "web")
        answered = log.of_type("answered", CAMPAIGN_ID)
        assert [(e.source, e.detail["answer"]) for e in answered] == [("web", "yes"), ("web", "no")]
        entry = suppressions.lookup(person)
        assert entry is not None
        assert (entry.reason, entry.scope, entry.source) == ("unsubscribed", "all", "web")
        [event] = log.of_type("unsubscribed", CAMPAIGN_ID)
        assert (event.source, event.detail["how"], event.detail["scope"]) == ("web", "page", "all")
    finally:
        for handle in (log, people, suppressions):
            handle.close()

    # a later `listonosz send` of another kind, in its own process, skips that person: a
    # notice for everyone on the lists, so only the suppression list can keep them out
    for path in capture.messages():
        path.unlink()
    text = website.campaign.read_text(encoding="utf-8")
    assert text.count("\nmessages:\n") == 1
    notice = '  change:\n    template: reminder\n    subject: "Zmiana sali"\n'
    website.campaign.write_text(text.replace("\nmessages:\n", f"\nmessages:\n{notice}"))
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    sent = subprocess.run(
        [LISTONOSZ, "send", str(website.campaign), "--message", "change"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "Not sent to 1 on the suppression list." in sent.stdout.splitlines(), sent.stdout
    received = {
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["To"]
        .addresses[0]
        .addr_spec
        for path in capture.messages()
    }
    assert len(received) == 4 and person not in received
