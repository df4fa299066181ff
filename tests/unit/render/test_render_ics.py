"""The invitation's calendar file: RFC 5545, stable UID, SEQUENCE, DTSTAMP, Europe/Warsaw."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from icalendar import Calendar

from listonosz.campaign import Campaign
from listonosz.render.ics import calendar_attachment, event_calendar, event_uid

STAMP = dt.datetime(2016, 8, 1, 9, 30, tzinfo=dt.UTC)


def test_calendar_is_an_rfc5545_publish_with_one_event(campaign: Campaign) -> None:
    data = event_calendar(campaign, STAMP, sequence=2)
    lines = data.split(b"\r\n")
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-2] == b"END:VCALENDAR" and lines[-1] == b""
    assert all(len(line) <= 75 for line in lines), "content lines are folded at 75 octets"
    calendar = Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["VERSION"]) == "2.0"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == "ekonomia-spoleczna-2016@rops-bialystok.example"
    assert int(event["SEQUENCE"]) == 2
    assert event.decoded("DTSTAMP") == STAMP
    warsaw = ZoneInfo("Europe/Warsaw")
    assert event.decoded("DTSTART") == dt.datetime(2016, 9, 7, 10, 0, tzinfo=warsaw)
    assert event.decoded("DTEND") == dt.datetime(2016, 9, 7, 14, 0, tzinfo=warsaw)
    assert event["DTSTART"].params["TZID"] == "Europe/Warsaw"
    assert str(event["SUMMARY"]) == "Ekonomia Społeczna w wymiarze lokalnym"
    assert str(event["LOCATION"]) == "Hotel 3-Trio, ul. Książęca 1, Białystok"
    assert str(event["ORGANIZER"]) == "mailto:ekonomia.spoleczna@rops-bialystok.example"
    assert "10:45 Usługi społeczne – Marcin Kruhlej" in str(event["DESCRIPTION"])


def test_the_warsaw_time_zone_is_defined_in_the_file(campaign: Campaign) -> None:
    calendar = Calendar.from_ical(event_calendar(campaign, STAMP))
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Warsaw"
    offsets = {(c.name, c.decoded("TZOFFSETTO")) for c in zone.subcomponents}
    assert ("STANDARD", dt.timedelta(hours=1)) in offsets
    assert ("DAYLIGHT", dt.timedelta(hours=2)) in offsets
    assert not calendar.get_missing_tzids()


def test_uid_is_stable_and_only_dtstamp_and_sequence_change(campaign: Campaign) -> None:
    first = event_calendar(campaign, STAMP)
    later = event_calendar(campaign, STAMP + dt.timedelta(days=3), sequence=1)
    assert event_uid(campaign) == "ekonomia-spoleczna-2016@rops-bialystok.example"
    differing = set(first.split(b"\r\n")) ^ set(later.split(b"\r\n"))
    assert {line.split(b":")[0] for line in differing} == {b"DTSTAMP", b"SEQUENCE"}
    assert event_calendar(campaign, STAMP) == first


def test_attachment_is_named_and_typed_for_mail_clients(campaign: Campaign) -> None:
    attachment = calendar_attachment(campaign, STAMP)
    assert attachment.filename == "wydarzenie.ics" and attachment.filename.isascii()
    assert attachment.content_type == 'text/calendar; charset="utf-8"; method=PUBLISH'
    assert attachment.data == event_calendar(campaign, STAMP)


def test_an_independent_parser_reads_the_zone_as_zoneinfo_has_it(campaign: Campaign) -> None:
    """dateutil's own VTIMEZONE reader agrees with zoneinfo hour by hour for two years, and
    the daylight onset is 02:00 local (RFC 5545 §3.6.5), not 03:00."""
    import io
    from zoneinfo import ZoneInfo

    from dateutil import tz

    text = event_calendar(campaign, STAMP).decode()
    block = text[text.index("BEGIN:VTIMEZONE") : text.index("END:VTIMEZONE") + 13]
    assert "BEGIN:DAYLIGHT\r\nDTSTART:20150329T020000\r\nRDATE:20160327T020000" in block
    parsed = tz.tzical(io.StringIO(block.replace("\r\n", "\n"))).get("Europe/Warsaw")
    zone = ZoneInfo("Europe/Warsaw")
    moment = dt.datetime(2015, 9, 8, tzinfo=dt.UTC)
    while moment < dt.datetime(2017, 9, 6, tzinfo=dt.UTC):
        assert moment.astimezone(parsed).utcoffset() == moment.astimezone(zone).utcoffset(), moment
        moment += dt.timedelta(hours=1)


def test_update_and_cancellation_read_back_in_an_independent_parser(campaign: Campaign) -> None:
    """vobject (not the icalendar that wrote them) finds the same UID, a higher SEQUENCE and
    the right METHOD in what the update and cancellation messages attach."""
    import vobject

    from listonosz.render.environment import MessageRenderer

    moved = campaign.model_copy(update={"event": campaign.event.model_copy(update={"sequence": 1})})
    invitation = MessageRenderer(campaign, "invitation", campaign.templates_dir, now=STAMP)
    first = vobject.readOne(invitation.attachments[0].data.decode())
    seen = []
    for kind, method in (("update", "PUBLISH"), ("cancellation", "CANCEL")):
        renderer = MessageRenderer(moved, kind, moved.templates_dir, now=STAMP)
        [attachment] = renderer.attachments
        assert attachment.content_type.endswith(f"method={method}")
        parsed = vobject.readOne(attachment.data.decode())
        assert parsed.method.value == method
        assert parsed.vevent.uid.value == first.vevent.uid.value
        assert int(parsed.vevent.sequence.value) > int(first.vevent.sequence.value)
        seen.append(parsed.vevent.status.value)
    assert seen == ["CONFIRMED", "CANCELLED"]
