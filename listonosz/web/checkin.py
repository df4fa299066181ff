"""The registration desk's check-in page: find a person by name, mark them present.

Reached by a secret link (``listonosz attendance link CAMPAIGN``) whose signed token names the
campaign; the forms identify people by a keyed hash, never by address, and the page shows
names and organisations only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.lifecycle import CampaignBook, search
from listonosz.mail import verify_token
from listonosz.sending import merge_audience
from listonosz.store import Participants, person_key

Render = Callable[..., HTMLResponse]


def add_checkin_routes(
    app: FastAPI,
    render: Render,
    secret: Callable[[], bytes],
    people: Callable[[], Participants],
    book: Callable[[], CampaignBook],
) -> None:
    """GET and POST ``/checkin/{token}`` on ``app``."""

    def campaign_of(token: str) -> Campaign | None:
        try:
            claims = verify_token(secret(), "checkin", token)
        except ValueError:
            return None
        return book().get(claims.get("c", ""))

    def audience(campaign: Campaign) -> tuple[list[Contact], dict[str, str]]:
        contacts = merge_audience(campaign).contacts
        handles = {c.email: person_key(secret(), c.email)[:24] for c in contacts}
        return contacts, handles

    def not_found() -> HTMLResponse:
        return render("message.html", 404, title="Nie znaleziono strony", kind="not_found")

    @app.get("/checkin/{token}", response_class=HTMLResponse, summary="Check-in: search")
    def checkin_page(token: str, q: str = "", marked: str = "") -> HTMLResponse:
        campaign = campaign_of(token)
        if campaign is None:
            return not_found()
        query = q[:100]
        guests = []
        if query.strip():
            contacts, handles = audience(campaign)
            states = {p.email: p for p in people().of_campaign(campaign.id)}
            guests = search(contacts, states, query, handles)
        return render(
            "checkin.html",
            title=f"Rejestracja: {campaign.event.title}",
            event=campaign.event,
            closed=people().attendance_closed(campaign.id) is not None,
            query=query,
            guests=guests,
            marked=marked[:200],
            action=f"/checkin/{quote(token)}",
        )

    @app.post("/checkin/{token}", response_class=HTMLResponse, summary="Check-in: mark present")
    async def checkin_mark(token: str, request: Request) -> Response:
        campaign = campaign_of(token)
        if campaign is None:
            return not_found()
        try:
            form = await request.form()
        except Exception:
            return render("message.html", 400, title="Nieprawidłowe żądanie", kind="bad")
        handle, query = form.get("person"), form.get("q", "")
        if not isinstance(handle, str) or not isinstance(query, str):
            return render("message.html", 400, title="Nieprawidłowe żądanie", kind="bad")
        if people().attendance_closed(campaign.id) is not None:
            return render("message.html", 409, title="Lista obecności zamknięta", kind="closed")
        contacts, handles = audience(campaign)
        email = next((e for e, h in handles.items() if h == handle), None)
        if email is None:
            return render("message.html", 400, title="Nieprawidłowe żądanie", kind="bad")
        people().attend(campaign.id, email, "attended", "checkin", dt.datetime.now(dt.UTC))
        name = next((c.full_name for c in contacts if c.email == email), "")
        where = urlencode({"q": query[:100], "marked": name})
        return RedirectResponse(f"/checkin/{quote(token)}?{where}", status_code=303)
