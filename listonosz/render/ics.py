"""The event as an RFC 5545 calendar file ("add to calendar"), made with icalendar.

One file per event, the same for every recipient: a stable UID (campaign and sender domain), so
a calendar that imported the invitation updates the entry when a later message brings a higher
SEQUENCE; METHOD:PUBLISH (an announcement, not a meeting request: nobody's calendar replies);
times in Europe/Warsaw (the event's zone) with its VTIMEZONE included.

The VTIMEZONE is built here from the zone's transitions (zoneinfo), a year either side of the
event: each observance starts at the local time *before* its change, as RFC 5545 §3.6.5 wants
(icalendar's own ``add_missing_timezones`` put the daylight onset at 03:00 instead of 02:00).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vText,
)

from listonosz.campaign import Campaign
from listonosz.render.model import Attachment

CONTENT_TYPE = 'text/calendar; charset="utf-8"; method=PUBLISH'
CANCEL_CONTENT_TYPE = 'text/calendar; charset="utf-8"; method=CANCEL'
FILENAME = "wydarzenie.ics"
PRODID = "-//Listonosz//Listonosz//PL"


def event_uid(campaign: Campaign) -> str:
    """The event's UID: the same in every message and every run of this campaign."""
    return f"{campaign.id}@{campaign.sender.domain}"


def event_calendar(
    campaign: Campaign, stamp: dt.datetime, sequence: int = 0, cancelled: bool = False
) -> bytes:
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
    entry.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    entry.add("transp", "OPAQUE")
    entry.add("class", "PUBLIC")
    who = vCalAddress(f"mailto:{organiser.email}")
    who.params["cn"] = vText(organiser.name)
    entry.add("organizer", who)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    calendar.add_component(entry)
    start = event.starts_at.astimezone(dt.UTC)
    calendar.add_component(
        vtimezone(event.timezone, start - dt.timedelta(days=366), start + dt.timedelta(days=366))
    )
    data: bytes = calendar.to_ical()
    return data


def transitions(zone: ZoneInfo, first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """The UTC instants between ``first`` and ``last`` (aware) at which ``zone``'s offset
    changes, to the second: found day by day, then by bisection."""
    found = []
    step = dt.timedelta(days=1)
    moment = first
    while moment < last:
        after = moment + step
        if moment.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            low, high = moment, after
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(microsecond=0))
        moment = after
    return found


def vtimezone(name: str, first: dt.datetime, last: dt.datetime) -> Timezone:
    """The VTIMEZONE of zone ``name`` for ``first``..``last`` (aware datetimes).

    One observance per kind and offsets, its first change (the one in effect at ``first``
    included) as DTSTART, in the local time before the change, and the later ones as RDATEs;
    a zone without changes gets one STANDARD observance.
    """
    zone = ZoneInfo(name)
    component = Timezone()
    component.add("tzid", name)
    # the change in effect at ``first`` too, so that every moment of the range is covered
    earlier = transitions(zone, first - dt.timedelta(days=400), first)
    changes = earlier[-1:] + transitions(zone, first, last)
    if not changes:
        local = first.astimezone(zone)
        offset = local.utcoffset()
        only = TimezoneStandard()
        only.add("dtstart", local.replace(tzinfo=None, microsecond=0))
        only.add("tzoffsetfrom", offset)
        only.add("tzoffsetto", offset)
        only.add("tzname", local.tzname())
        component.add_component(only)
        return component
    groups: dict[tuple[bool, dt.timedelta, dt.timedelta, str], list[dt.datetime]] = {}
    for instant in changes:
        before = (instant - dt.timedelta(seconds=1)).astimezone(zone)
        after = instant.astimezone(zone)
        offset_before, offset_after = before.utcoffset(), after.utcoffset()
        assert offset_before is not None and offset_after is not None
        daylight = bool(after.dst())
        local_before = (instant + offset_before).replace(tzinfo=None)
        key = (daylight, offset_before, offset_after, after.tzname() or name)
        groups.setdefault(key, []).append(local_before)
    for (daylight, offset_from, offset_to, tzname), starts in groups.items():
        observance = TimezoneDaylight() if daylight else TimezoneStandard()
        observance.add("dtstart", starts[0])
        for later in starts[1:]:
            observance.add("rdate", later)
        observance.add("tzoffsetfrom", offset_from)
        observance.add("tzoffsetto", offset_to)
        observance.add("tzname", tzname)
        component.add_component(observance)
    return component


def _description(campaign: Campaign) -> str:
    event = campaign.event
    lines = [f"{event.title} – {event.organiser.name}", ""]
    for item in event.programme:
        who = f" – {item.speaker}" if item.speaker else ""
        lines.append(f"{item.time} {item.title}{who}")
    lines += ["", event.organiser.website]
    return "\n".join(lines)


def calendar_attachment(
    campaign: Campaign, stamp: dt.datetime, sequence: int = 0, cancelled: bool = False
) -> Attachment:
    """The calendar file as an attachment (METHOD:CANCEL and STATUS:CANCELLED when the event
    is called off: calendars that imported it remove it)."""
    content_type = CANCEL_CONTENT_TYPE if cancelled else CONTENT_TYPE
    data = event_calendar(campaign, stamp, sequence, cancelled)
    return Attachment(FILENAME, content_type, data)
