"""The web app recipients reach from their messages: RSVP and unsubscribe pages (and the
one-click unsubscribe that mailbox providers POST), served by ``listonosz serve``.

Routes are thin: a token is checked first (its signature, before any database query, so a
flood of forged links costs little), then the core does the work (``lifecycle``, ``tracking``,
``store``) and a Polish page is rendered from ``web/templates``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from listonosz.campaign import Organiser
from listonosz.config import Settings
from listonosz.lifecycle import CampaignBook, Invitation, Rsvp, RsvpError
from listonosz.mail import verify_token
from listonosz.render.ics import FILENAME, event_calendar
from listonosz.render.polish import date_pl, time_pl, weekday_pl
from listonosz.store import Checkpointer, EventLog, Ledger, Participants, SuppressionList
from listonosz.tracking import Unsubscribed, UnsubscribeRequest, unsubscribe_many
from listonosz.web.batching import Batcher
from listonosz.web.checkin import add_checkin_routes
from listonosz.web.hooks import WEBHOOK_MAX_BODY, Webhooks
from listonosz.web.oneclick import OneClick
from listonosz.web.security import ASGIApp, Guard

#: The body a mailbox provider POSTs for a one-click unsubscribe (RFC 8058).
ONE_CLICK = ("List-Unsubscribe", "One-Click")
#: A delivery key as tokens carry it.
_KEY_LENGTH = 40
#: How many rendered "unsubscribed" pages (two scopes per organiser) and organisers are kept.
_PAGES_KEPT = 64
#: How long (seconds) an organiser looked up for the unsubscribed page is taken as current.
_ORGANISER_TTL = 1.0


def _form_body(fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """The OpenAPI description of a small form body (the routes read it themselves), so the
    schema documents it and tools that test from the schema send it."""
    schema = {"type": "object", "properties": fields, "required": required}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema},
                "multipart/form-data": {"schema": schema},
            },
        }
    }


#: One-click (what mailbox providers send), or the page's choice of scope.
UNSUBSCRIBE_FORM = _form_body(
    {
        ONE_CLICK[0]: {"type": "string", "enum": [ONE_CLICK[1]]},
        "scope": {"type": "string", "enum": ["all", "newsletter"]},
    },
    [],
)
RSVP_FORM = _form_body({"answer": {"type": "string", "enum": ["yes", "no"]}}, ["answer"])


@dataclass
class Services:
    """What the routes use, opened once per app and closed with it."""

    secret: bytes
    ledger: Ledger
    log: EventLog
    participants: Participants
    suppressions: SuppressionList
    rsvp: Rsvp
    book: CampaignBook
    #: unsubscribes that arrive together are written together (a few statements for all)
    unsubscribes: Batcher[UnsubscribeRequest, Unsubscribed]
    checkpoints: Checkpointer

    def close(self) -> None:
        self.checkpoints.close()
        for handle in (self.ledger, self.log, self.participants, self.suppressions):
            handle.close()


def page_environment() -> Environment:
    """The pages' Jinja environment: our own templates, autoescaped, with the Polish filters
    the messages use."""
    env = Environment(
        loader=PackageLoader("listonosz.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # package files: no stat of each template on every page
    )
    env.filters.update(date_pl=date_pl, time_pl=time_pl, weekday_pl=weekday_pl)
    return env


def create_app(
    settings: Settings | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    *,
    fast_one_click: bool = True,
) -> Guard:
    """The ASGI app (FastAPI inside :class:`Guard`): pages, one-click, health check.

    ``clock`` is what the RSVP pages take for now (tests move it; the real time otherwise).
    ``fast_one_click`` puts :class:`~listonosz.web.oneclick.OneClick` in front of FastAPI (the
    one-click POSTs answered without it); False leaves every request to the FastAPI routes,
    the reference the fast path is tested against.
    """
    settings = settings or Settings()
    now = clock or _now
    pages = page_environment()
    state: dict[str, Services] = {}
    webhooks = Webhooks(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        url = settings.resolved_ledger_url
        secret = settings.signing_secret()
        ledger, log, people = Ledger(url), EventLog(url), Participants(url)
        book = CampaignBook(settings)
        suppressions = SuppressionList(url, secret)
        checkpoints = Checkpointer(url)
        checkpoints.start()  # no request waits for a checkpoint's fsyncs
        state["services"] = Services(
            secret,
            ledger,
            log,
            people,
            suppressions,
            Rsvp(ledger, people, log, book),
            book,
            Batcher(lambda asked: unsubscribe_many(ledger, log, suppressions, asked, "web")),
            checkpoints,
        )
        webhooks.open()
        try:
            yield
        finally:
            webhooks.close()
            state.pop("services").close()

    app = FastAPI(
        title="Listonosz",
        summary="RSVP and unsubscribe pages of Listonosz messages",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(packages=[("listonosz.web", "static")]), name="static")
    app.include_router(webhooks.router())

    #: the unsubscribed page by (scope, organiser): it depends on nothing else
    done_pages: dict[tuple[str, Organiser | None], str] = {}

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = pages.get_template(name).render(**context)
        return HTMLResponse(html, status, headers={"cache-control": "no-store"})

    # the same page for every forged or dead link: rendered once (a flood costs little)
    not_found_page = pages.get_template("message.html").render(
        title="Nie znaleziono strony", kind="not_found"
    )
    gone_page = pages.get_template("message.html").render(
        title="Odnośnik jest nieaktywny", kind="gone"
    )

    def not_found() -> HTMLResponse:
        return HTMLResponse(not_found_page, 404, headers={"cache-control": "no-store"})

    def gone() -> HTMLResponse:
        return HTMLResponse(gone_page, 410, headers={"cache-control": "no-store"})

    def services() -> Services:
        return state["services"]

    def organiser_of(campaign_id: str) -> Organiser | None:
        campaign = services().book.get(campaign_id)
        return campaign.event.organiser if campaign else None

    #: campaign id → (when looked up, its organiser), for the page after an unsubscribe
    organisers: dict[str, tuple[float, Organiser | None]] = {}

    def recent_organiser(campaign_id: str) -> Organiser | None:
        """The campaign's organiser as looked up at most a second ago: a burst of
        unsubscribes does not look at the campaigns folder for each one."""
        seen = organisers.get(campaign_id)
        if seen is None or time.monotonic() - seen[0] > _ORGANISER_TTL:
            if len(organisers) >= _PAGES_KEPT:
                organisers.clear()
            seen = organisers[campaign_id] = (time.monotonic(), organiser_of(campaign_id))
        return seen[1]

    def key_of(token: str, purpose: str) -> tuple[str, dict[str, str]] | None:
        try:
            claims = verify_token(services().secret, purpose, token)
        except ValueError:
            return None
        key = claims.get("k", "")
        if len(key) != _KEY_LENGTH or not key.isalnum():
            return None
        return key, claims

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return render("message.html", 405, title="Niedozwolona metoda", kind="method")
        return not_found()

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, _exc: RequestValidationError) -> Response:
        return render("message.html", 400, title="Nieprawidłowe żądanie", kind="bad")

    @app.get("/healthz", summary="Health check: the app answers and its store opens")
    def healthz() -> JSONResponse:
        services().ledger.paused("", "")  # one cheap query: the store answers
        return JSONResponse({"status": "ok"})

    @app.get("/", response_class=HTMLResponse, summary="What this site is")
    def home() -> HTMLResponse:
        return render("message.html", title="Listonosz", kind="home")

    @app.get("/u/{token}", response_class=HTMLResponse, summary="Unsubscribe: confirm")
    def unsubscribe_page(token: str) -> HTMLResponse:
        found = key_of(token, "unsubscribe")
        if found is None:
            return not_found()
        delivery = services().ledger.delivery(found[0])
        if delivery is None:
            return gone()
        held = services().suppressions.lookup(delivery.email)
        return render(
            "unsubscribe.html",
            title="Wypisanie z listy",
            done=held.scope if held else None,
            action=f"/u/{quote(token)}",
            organiser=organiser_of(delivery.campaign),
        )

    @app.post(
        "/u/{token}",
        response_class=HTMLResponse,
        summary="Unsubscribe (one-click)",
        openapi_extra=UNSUBSCRIBE_FORM,
    )
    async def unsubscribe_post(token: str, request: Request) -> HTMLResponse:
        found = key_of(token, "unsubscribe")
        if found is None:
            return not_found()
        try:
            form = await request.form()
        except Exception:  # a body that is no form: say so, never a 500
            return render("message.html", 400, title="Nieprawidłowe żądanie", kind="bad")
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        if fields.get(ONE_CLICK[0]) == ONE_CLICK[1]:
            scope, how = "all", "one-click"
        elif fields.get("scope") in ("all", "newsletter"):
            scope, how = fields["scope"], "page"
        else:
            return render("message.html", 400, title="Nieprawidłowe żądanie", kind="bad")
        return await unsubscribe(found[0], scope, how)

    async def unsubscribe(key: str, scope: str, how: str) -> HTMLResponse:
        """Unsubscribe the delivery ``key`` (in the batch that gathers meanwhile): the page."""
        result = await services().unsubscribes.submit(UnsubscribeRequest(key, scope, how))
        if not result.found:
            return gone()
        organiser = recent_organiser(result.campaign) if result.campaign else None
        # the same two pages over and over during a burst: rendered once per organiser
        html = done_pages.get((result.scope, organiser))
        if html is None:
            if len(done_pages) >= _PAGES_KEPT:
                done_pages.clear()
            html = pages.get_template("unsubscribed.html").render(
                title="Wypisano z listy", scope=result.scope, organiser=organiser
            )
            done_pages[(result.scope, organiser)] = html
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    async def one_click(token: str) -> Response:
        """What the route answers a one-click POST of ``token`` (the fast path's answer)."""
        found = key_of(token, "unsubscribe")
        if found is None:
            return not_found()
        return await unsubscribe(found[0], "all", "one-click")

    def open_invitation(token: str) -> tuple[Invitation, dict[str, str]] | HTMLResponse:
        """The invitation of an RSVP token still open to look at, or the page saying why not
        (a bad token, a delivery gone, an event that has taken place)."""
        found = key_of(token, "rsvp")
        if found is None:
            return not_found()
        invitation = services().rsvp.invitation(found[0], now())
        if invitation is None:
            return gone()
        if invitation.closed == "over":
            return _over(render, invitation)
        return invitation, found[1]

    @app.get("/r/{token}", response_class=HTMLResponse, summary="RSVP: the invitation")
    def rsvp_page(token: str) -> HTMLResponse:
        opened = open_invitation(token)
        if isinstance(opened, HTMLResponse):
            return opened
        invitation, claims = opened
        return render(
            "rsvp.html",
            title=invitation.campaign.event.title,
            invitation=invitation,
            event=invitation.campaign.event,
            suggested=claims.get("a"),
            action=f"/r/{quote(token)}",
            ics=f"/r/{quote(token)}/{FILENAME}",
            google=google_calendar_url(invitation),
        )

    @app.post(
        "/r/{token}", response_class=HTMLResponse, summary="RSVP: answer", openapi_extra=RSVP_FORM
    )
    async def rsvp_post(token: str, request: Request) -> Response:
        found = key_of(token, "rsvp")
        if found is None:
            return not_found()
        try:
            form = await request.form()
        except Exception:
            return render("message.html", 400, title="Nieprawidłowe żądanie", kind="bad")
        answer = form.get("answer")
        if not isinstance(answer, str):
            return render("message.html", 400, title="Nieprawidłowe żądanie", kind="bad")
        try:
            invitation = services().rsvp.answer(found[0], answer, now())
        except RsvpError as exc:
            if exc.reason == "answer":
                return render("message.html", 400, title="Nieprawidłowe żądanie", kind="bad")
            if exc.reason == "over":
                invitation = services().rsvp.invitation(found[0], now())
                return _over(render, invitation) if invitation else gone()
            return render("message.html", 409, title="Rejestracja zamknięta", kind="deadline")
        if invitation is None:
            return gone()
        return RedirectResponse(f"/r/{quote(token)}", status_code=303)

    @app.get(f"/r/{{token}}/{FILENAME}", summary="RSVP: the event's calendar file")
    def rsvp_calendar(token: str) -> Response:
        opened = open_invitation(token)
        if isinstance(opened, HTMLResponse):
            return opened
        campaign = opened[0].campaign
        body = event_calendar(campaign, now(), campaign.event.sequence)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{FILENAME}"'},
        )

    add_checkin_routes(
        app,
        render,
        lambda: services().secret,
        lambda: services().participants,
        lambda: services().book,
    )
    inner: ASGIApp = OneClick(app, one_click) if fast_one_click else app
    return Guard(inner, larger={"/hooks/": WEBHOOK_MAX_BODY})


def google_calendar_url(invitation: Invitation) -> str:
    """An "add to Google Calendar" link with the event's title, times, place and site."""
    event = invitation.campaign.event
    stamp = "%Y%m%dT%H%M%SZ"
    start = event.starts_at.astimezone(dt.UTC).strftime(stamp)
    end = event.ends_at.astimezone(dt.UTC).strftime(stamp)
    venue = event.venue
    query = {
        "action": "TEMPLATE",
        "text": event.title,
        "dates": f"{start}/{end}",
        "location": f"{venue.name}, {venue.address}, {venue.city}",
        "details": event.organiser.website,
    }
    return f"https://calendar.google.com/calendar/render?{urlencode(query)}"


def _over(render: Any, invitation: Invitation) -> HTMLResponse:
    response: HTMLResponse = render(
        "message.html",
        410,
        title="Wydarzenie już się odbyło",
        kind="over",
        event=invitation.campaign.event,
    )
    return response


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
