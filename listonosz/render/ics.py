"""The event as an RFC 5545 calendar file ("add to calendar"), made with icalendar.

One file per event, the same for every recipient: a stable UID (campaign and sender domain), so
a calendar that imported the invitation updates the entry when a later message brings a higher
SEQUENCE; METHOD:PUBLISH (an announcement, not a meeting request: nobody's calendar replies);
times in Europe/Warsaw (the event's zone) with its VTIMEZONE included.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from listonosz.campaign import Campaign
from listonosz.render.model import Attachment

CONTENT_TYPE = 'text/calendar; charset="utf-8"; method=PUBLISH'
FILENAME = "wydarzenie.ics"
PRODID = "-//Listonosz//Listonosz//PL"


def event_uid(campaign: Campaign) -> str:
    """The event's UID: the same in every message and every run of this campaign."""
    return f"{campaign.id}@{campaign.sender.domain}"


def event_calendar(campaign: Campaign, stamp: dt.datetime, sequence: int = 0) -> bytes:
    """The VCALENDAR bytes (CRLF lines, folded at 75 octets) of the campaign's event.

    ``stamp`` is the DTSTAMP (when this calendar object was made). ``sequence`` must grow each
    time the event's date, time or place changes.
    """
    event = campaign.event
    zone = ZoneInfo(event.timezone)
    organiser = event.organiser
    venue = event.venue
    entry = Event()
    entry.add("uid", event_uid(campaign))
    entry.add("dtstamp", stamp.astimezone(dt.UTC))
    entry.add("sequence", sequence)
    entry.add("dtstart", event.starts_at.astimezone(zone))
    entry.add("dtend", event.ends_at.astimezone(zone))
    entry.add("summary", event.title)
    entry.add("location", f"{venue.name}, {venue.address}, {venue.city}")
    entry.add("description", _description(campaign))
    entry.add("url", organiser.website)
    entry.add("status", "CONFIRMED")
    entry.add("transp", "OPAQUE")
    entry.add("class", "PUBLIC")
    who = vCalAddress(f"mailto:{organiser.email}")
    who.params["cn"] = vText(organiser.name)
    entry.add("organizer", who)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add_component(entry)
    start = event.starts_at.date()
    calendar.add_missing_timezones(
        first_date=start - dt.timedelta(days=366), last_date=start + dt.timedelta(days=366)
    )
    data: bytes = calendar.to_ical()
    return data


def _description(campaign: Campaign) -> str:
    event = campaign.event
    lines = [f"{event.title} – {event.organiser.name}", ""]
    for item in event.programme:
        who = f" – {item.speaker}" if item.speaker else ""
        lines.append(f"{item.time} {item.title}{who}")
    lines += ["", event.organiser.website]
    return "\n".join(lines)


def calendar_attachment(campaign: Campaign, stamp: dt.datetime, sequence: int = 0) -> Attachment:
    """The calendar file as an attachment of the invitation."""
    return Attachment(FILENAME, CONTENT_TYPE, event_calendar(campaign, stamp, sequence))
