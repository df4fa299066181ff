"""The web app under bad and generated input, served by ``listonosz serve`` in its own process:
schemathesis from the app's OpenAPI schema (forged tokens, and real ones with generated
bodies), hypothesis over raw form bodies posted to real links, answers after the event and
after the registration deadline, and the cost of a forged token (no database query).

Every answer is checked for the same three things: never a 5xx, never a recipient's address,
and the store changed only when the form asked for a change that is allowed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from listonosz.config import Settings
from listonosz.mail import sign_token
from listonosz.store import EventLog, Participants, SuppressionList
from listonosz.web import create_app
from tests.conftest import listonosz_serve
from tests.factories import seed_deliveries, write_project

pytestmark = pytest.mark.slow

SECRET = "test-secret-for-the-web-app"
#: The campaigns of the site: open, past its registration deadline, over.
OPEN, DEADLINE, OVER = "seminarium-otwarte", "seminarium-po-terminie", "seminarium-minione"
#: The campaigns' own domain: its addresses (organiser, the calendar's UID) may be shown.
OWN_DOMAIN = "@rops-bialystok.example"
#: Anything that looks like an address.
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: Examples per schemathesis operation and per hypothesis test: enough to reach every branch
#: of the routes, bounded so the module runs in well under a minute.
EXAMPLES = 60
SHARED = 10


@dataclass
class Site:
    """A running ``listonosz serve`` over a store with deliveries of three campaigns."""

    url: str
    store: str
    log: Path
    #: delivery keys and addresses by campaign id, in seeding order
    keys: dict[str, list[str]] = field(repr=False)
    emails: dict[str, list[str]] = field(repr=False)
    #: indexes of deliveries of the open campaign that no test has used yet (the first
    #: ``SHARED`` are for tests that do not care what earlier ones did to them)
    fresh: Iterator[int] = field(default_factory=lambda: itertools.count(SHARED), repr=False)

    def token(self, purpose: str, campaign: str, n: int, **claims: str) -> str:
        return sign_token(SECRET.encode(), purpose, k=self.keys[campaign][n], **claims)

    def next_fresh(self) -> int:
        n = next(self.fresh)
        assert n < len(self.keys[OPEN]), "seed more deliveries: the tests ran out of fresh ones"
        return n


def add_campaign(project: Path, campaign_id: str, when: dt.date, deadline: dt.date | None) -> None:
    """Another campaign file in ``project``, moved to ``when`` (deadline ``deadline``)."""
    scratch = write_project(project.parent / f"scratch-{campaign_id}", 1, when, deadline)
    text = scratch.read_text(encoding="utf-8").replace(
        "id: ekonomia-spoleczna-2016", f"id: {campaign_id}", 1
    )
    (project / "campaigns" / f"{campaign_id}.yaml").write_text(text, encoding="utf-8")


def site_env(var: Path, project: Path, store: str) -> dict[str, str]:
    """The server's environment: this module's store, project and secret, nothing inherited."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LISTONOSZ_")}
    env.update(
        LISTONOSZ_VAR_DIR=str(var),
        LISTONOSZ_PROJECT_DIR=str(project),
        LISTONOSZ_LEDGER_URL=store,
        LISTONOSZ_TOKEN_SECRET=SECRET,
        LISTONOSZ_CONFIG=str(var / "absent.toml"),
    )
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A project with the three campaigns and a store with their deliveries."""
    root = tmp_path_factory.mktemp("web-input")
    project = root / "project"
    today = dt.date.today()
    write_project(project, 1)  # the 2016 seminar: not one of ours once renamed below
    (project / "campaigns" / "bench.yaml").unlink()
    add_campaign(project, OPEN, today + dt.timedelta(days=30), today + dt.timedelta(days=20))
    add_campaign(project, DEADLINE, today + dt.timedelta(days=10), today - dt.timedelta(days=1))
    add_campaign(project, OVER, today - dt.timedelta(days=3), None)
    return project, f"sqlite:///{root / 'var' / 'ledger.sqlite'}"


@pytest.fixture(scope="module")
def site(project: tuple[Path, str]) -> Iterator[Site]:
    folder, store = project
    var = folder.parent / "var"
    var.mkdir(exist_ok=True)
    counts = {OPEN: 1500, DEADLINE: 20, OVER: 20}
    emails = {
        campaign: [f"osoba.{n}@{campaign}.example.pl" for n in range(count)]
        for campaign, count in counts.items()
    }
    keys = {
        campaign: seed_deliveries(store, campaign, "invitation", addresses)
        for campaign, addresses in emails.items()
    }
    log = folder.parent / "serve.log"
    with listonosz_serve(site_env(var, folder, store), log) as url:
        yield Site(url, store, log, keys, emails)
    text = log.read_text()
    assert "listonosz.web.access GET /healthz 200" in text, "the access log shows requests"
    assert not re.search(r"/(u|r)/[^…]", text), "a token in the server's output"
    assert not ADDRESS.search(text), "an address in the server's output"
    assert SECRET not in text


def reveals_nobody(site: Site, text: str) -> bool:
    """Whether an answer shows no address but the organiser's own (every recipient here is
    ``osoba.N@…``)."""
    return "osoba." not in text and all(a.endswith(OWN_DOMAIN) for a in ADDRESS.findall(text))


# schemathesis: every operation of the schema, positive and negative, forged and real tokens
# (driven by hypothesis here: schemathesis' own pytest loader does not run on pytest 9.2)


def operations(site: Site) -> list[schemathesis.APIOperation]:
    """The app's operations, from the schema the server itself publishes."""
    schema = schemathesis.openapi.from_url(f"{site.url}/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    labels = {f"{o.method.upper()} {o.path}" for o in found}
    assert {"GET /u/{token}", "POST /u/{token}", "GET /r/{token}", "POST /r/{token}"} <= labels
    return found


def exercise(
    site: Site, operation: schemathesis.APIOperation, token: st.SearchStrategy[str] | None
) -> None:
    """``EXAMPLES`` generated requests of each mode to ``operation`` (with tokens drawn from
    ``token`` when given, else schemathesis' own): no 5xx, no address, a known status."""
    # a free-form string in a path cannot be made invalid: negative cases are for the bodies
    negatable = bool(operation.body)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[: 2 if negatable else 1]:
        strategy = operation.as_strategy(generation_mode=mode)

        @given(case=strategy, real=token if token is not None else st.none())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case, real: str | None) -> None:
            if real is not None:
                case.path_parameters = {"token": real}
            response = case.call(base_url=site.url, allow_redirects=False)
            case.validate_response(response, checks=[not_a_server_error])
            assert reveals_nobody(site, response.text)
            if operation.path.startswith(("/u/", "/r/")):
                allowed = {200, 303, 400, 405, 413} if real else {400, 404, 405, 413}
                assert response.status_code in allowed, (response.status_code, case)
            if 400 <= response.status_code < 500 and response.status_code != 413:
                assert response.headers["content-type"][0].startswith("text/html")  # a page

        run()


def test_generated_requests_get_no_5xx_and_no_address(site: Site) -> None:
    for operation in operations(site):
        exercise(site, operation, None)


def test_real_tokens_with_generated_bodies(site: Site) -> None:
    """The same operations with valid tokens of the right purpose: the routes' real paths."""
    some = st.integers(0, SHARED - 1)
    for operation in operations(site):
        if operation.path.startswith("/u/"):
            exercise(site, operation, some.map(lambda n: site.token("unsubscribe", OPEN, n)))
        elif operation.path.startswith("/r/"):
            exercise(site, operation, some.map(lambda n: site.token("rsvp", OPEN, n, a="yes")))


# hypothesis: raw bodies of every shape posted to fresh deliveries' links

FIELD_NAMES = st.one_of(st.sampled_from(["List-Unsubscribe", "scope", "answer"]), st.text())
FIELD_VALUES = st.one_of(
    st.sampled_from(["One-Click", "all", "newsletter", "yes", "no", ""]), st.text(max_size=50)
)
FIELDS = st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=4)
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "multipart/form-data; boundary=",
        "text/plain",
        "application/json",
        "",
    ]
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str] | None]:
    """Request arguments for httpx, and the fields the app should see (None: not a form)."""
    fields = draw(FIELDS)
    shape = draw(st.sampled_from(["urlencoded", "multipart", "raw"]))
    if shape == "urlencoded":
        return {"data": fields}, fields
    if shape == "multipart" and all(_multipart_safe(name) for name in fields):
        files = {name: (None, value.encode()) for name, value in fields.items()}
        if not files:  # httpx sends no multipart body without a part
            files = {"other": (None, b"")}
        return {"files": files}, fields
    raw = draw(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
    return {"content": raw, "headers": {"content-type": draw(CONTENT_TYPES)}}, None


def _multipart_safe(name: str) -> bool:
    """Whether a field name survives multipart as it is (httpx escapes quotes and controls)."""
    return name.isprintable() and '"' not in name and "\\" not in name and "%" not in name


@given(body=bodies())
@settings(max_examples=EXAMPLES * 3, deadline=None, suppress_health_check=list(HealthCheck))
def test_unsubscribe_takes_exactly_the_forms_it_should(
    site: Site, body: tuple[dict[str, Any], dict[str, str] | None]
) -> None:
    kwargs, fields = body
    n = site.next_fresh()
    answer = httpx.post(f"{site.url}/u/{site.token('unsubscribe', OPEN, n)}", **kwargs)
    assert answer.status_code in (200, 400), answer.status_code
    assert reveals_nobody(site, answer.text)
    with SuppressionList(site.store, SECRET.encode()) as suppressions:
        held = suppressions.lookup(site.emails[OPEN][n])
    if fields is not None:
        if fields.get("List-Unsubscribe") == "One-Click":
            expected: str | None = "all"
        else:
            scope = fields.get("scope")
            expected = scope if scope in ("all", "newsletter") else None
        assert answer.status_code == (400 if expected is None else 200)
    if answer.status_code == 400:
        assert held is None
    else:
        assert held is not None and held.source == "web"
        if fields is not None:
            assert held.scope == expected


@given(body=bodies())
@settings(max_examples=EXAMPLES * 3, deadline=None, suppress_health_check=list(HealthCheck))
def test_rsvp_takes_exactly_the_answers_it_should(
    site: Site, body: tuple[dict[str, Any], dict[str, str] | None]
) -> None:
    kwargs, fields = body
    n = site.next_fresh()
    answer = httpx.post(f"{site.url}/r/{site.token('rsvp', OPEN, n, a='no')}", **kwargs)
    assert answer.status_code in (303, 400), answer.status_code
    assert reveals_nobody(site, answer.text)
    with Participants(site.store) as people:
        state = people.get(OPEN, site.emails[OPEN][n])
    if fields is not None:
        valid = fields.get("answer") in ("yes", "no")
        assert answer.status_code == (303 if valid else 400)
    if answer.status_code == 400:
        assert state is None
    else:
        assert state is not None and state.answer_source == "web"
        if fields is not None:
            assert state.answer == fields["answer"]


# the rules of time: after the event, after the registration deadline


def _answers(site: Site, campaign: str) -> list[str]:
    with EventLog(site.store) as log:
        return [e.detail["answer"] for e in log.of_type("answered", campaign)]


def test_rsvp_after_the_event_is_a_polite_410_and_changes_nothing(site: Site) -> None:
    token = site.token("rsvp", OVER, 0, a="yes")
    page = httpx.get(f"{site.url}/r/{token}")
    assert page.status_code == 410
    assert "Wydarzenie już się odbyło" in page.text and "odbyło się" in page.text
    for answer in ("yes", "no"):
        posted = httpx.post(f"{site.url}/r/{token}", data={"answer": answer})
        assert posted.status_code == 410
        assert "Wydarzenie już się odbyło" in posted.text
        assert reveals_nobody(site, posted.text)
    assert httpx.get(f"{site.url}/r/{token}/wydarzenie.ics").status_code == 410
    with Participants(site.store) as people:
        assert people.of_campaign(OVER) == []
    assert _answers(site, OVER) == []
    # the same person's unsubscribe link still works after the event
    unsubscribe = httpx.get(f"{site.url}/u/{site.token('unsubscribe', OVER, 0)}")
    assert unsubscribe.status_code == 200


def test_after_the_deadline_a_yes_is_refused_and_a_no_still_taken(site: Site) -> None:
    yes = f"{site.url}/r/{site.token('rsvp', DEADLINE, 0, a='yes')}"
    page = httpx.get(yes)
    assert page.status_code == 200
    assert "Termin zgłoszeń minął" in page.text
    assert 'value="yes"' not in page.text and 'value="no"' in page.text
    refused = httpx.post(yes, data={"answer": "yes"})
    assert refused.status_code == 409
    assert "Rejestracja zamknięta" in refused.text and "Termin zgłoszeń już minął" in refused.text
    assert reveals_nobody(site, refused.text)
    with Participants(site.store) as people:
        assert people.get(DEADLINE, site.emails[DEADLINE][0]) is None
    assert _answers(site, DEADLINE) == []

    taken = httpx.post(yes, data={"answer": "no"})  # the signed "yes" is only a suggestion
    assert taken.status_code == 303
    with Participants(site.store) as people:
        state = people.get(DEADLINE, site.emails[DEADLINE][0])
    assert state is not None and state.answer == "no"
    assert _answers(site, DEADLINE) == ["no"]
    # and a "no" cannot be turned back into a "yes"
    assert httpx.post(yes, data={"answer": "yes"}).status_code == 409
    assert _answers(site, DEADLINE) == ["no"]


# a flood of forged tokens costs no query


def test_forged_tokens_cost_no_database_query(project: tuple[Path, str]) -> None:
    """In the app itself (the same process, so every statement is counted): forged, tampered
    and foreign-purpose tokens are refused before the store is asked anything."""
    folder, store = project
    settings = Settings(
        var_dir=folder.parent / "var",
        project_dir=folder,
        ledger_url=store,
        token_secret=SECRET,
    )
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # the webhook inbox's own workers (threads named listonosz-…) answer no request
        if not threading.current_thread().name.startswith("listonosz-"):
            statements.append(statement)

    real = sign_token(SECRET.encode(), "unsubscribe", k="0" * 40)
    rsvp = sign_token(SECRET.encode(), "rsvp", k="0" * 40, a="yes")
    forged = [
        "nonsense",
        real[:-2] + ("AA" if not real.endswith("AA") else "BB"),  # tampered signature
        real[: len(real) // 2],  # truncated
        sign_token(b"another secret", "unsubscribe", k="0" * 40),  # someone else's key
        sign_token(SECRET.encode(), "unsubscribe", k="../../etc"),  # signed, not a key
        "%F0%9F%92%A9.%00%ff",
    ]
    with TestClient(create_app(settings)) as client:
        event.listen(Engine, "before_cursor_execute", count)
        try:
            for token in forged:
                for prefix in ("/u/", "/r/"):
                    assert client.get(prefix + token).status_code == 404
                    assert client.post(prefix + token, data={"answer": "yes"}).status_code == 404
                assert client.get(f"/r/{token}/wydarzenie.ics").status_code == 404
                assert client.get(f"/checkin/{token}?q=Nowak").status_code == 404
                assert client.post(f"/checkin/{token}", data={"person": "x"}).status_code == 404
            # tokens of the other purpose
            assert client.get(f"/u/{rsvp}").status_code == 404
            assert client.post(f"/r/{real}", data={"answer": "yes"}).status_code == 404
            assert statements == []
            # the control: a real token does reach the store
            assert client.get(f"/u/{real}").status_code == 410
            assert statements
        finally:
            event.remove(Engine, "before_cursor_execute", count)
