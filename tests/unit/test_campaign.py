"""Loading campaign files: the sample campaign, and the errors a bad file gives."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from listonosz.campaign import CampaignError, load_campaign
from tests.conftest import REPO

ROOT = REPO
SAMPLE = ROOT / "campaigns" / "ekonomia-spoleczna-2016.yaml"
SAMPLE_DATA: dict[str, Any] = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict[str, Any], name: str = "kampania.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def changed(**events: Any) -> dict[str, Any]:
    data = copy.deepcopy(SAMPLE_DATA)
    data["event"].update(events)
    return data


def error_of(path: Path) -> str:
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    return message


def test_sample_campaign_loads_with_warsaw_times() -> None:
    campaign = load_campaign(SAMPLE)
    event = campaign.event
    assert campaign.id == "ekonomia-spoleczna-2016"
    for moment in (event.starts_at, event.ends_at):
        assert moment.tzinfo is not None
        assert moment.utcoffset() == dt.timedelta(hours=2)  # CEST on 7 September
    assert event.starts_at == dt.datetime(2016, 9, 7, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    assert event.starts_at == dt.datetime(2016, 9, 7, 8, 0, tzinfo=dt.UTC)
    assert event.ends_at - event.starts_at == dt.timedelta(hours=4)
    assert event.starts_at.tzinfo == ZoneInfo("Europe/Warsaw")
    assert event.registration.deadline == dt.date(2016, 9, 2)
    assert event.venue.city == "Białystok"


def test_sample_campaign_messages_and_sources() -> None:
    campaign = load_campaign(SAMPLE)
    assert list(campaign.messages) == [
        "invitation",
        "reminder",
        "thank_you",
        "we_missed_you",
        "update",
        "cancellation",
        "newsletter",
    ]
    assert campaign.message("newsletter").consent_required
    assert campaign.message("thank_you").materials[0].title.startswith("Prezentacje")
    assert campaign.message("invitation").template == "invitation"
    schedule = campaign.message("reminder").scheduled
    assert schedule is not None and schedule.before_start == dt.timedelta(days=2)
    assert [s.group for s in campaign.audience.sources][:3] == [
        "przedsiebiorstwa_spoleczne",
        "jst",
        "ngo",
    ]
    # a file in campaigns/ resolves contact paths against the project folder
    assert campaign.base_dir == ROOT
    assert campaign.source_path(campaign.audience.sources[1]) == ROOT / "contacts" / "jst.csv"
    assert campaign.sender.domain == "rops-bialystok.example"


def test_winter_event_has_a_winter_offset(tmp_path: Path) -> None:
    data = changed(starts_at="2016-12-07T10:00:00", ends_at="2016-12-07T14:00:00")
    campaign = load_campaign(write(tmp_path, data))
    assert campaign.event.starts_at.utcoffset() == dt.timedelta(hours=1)


def test_a_copy_elsewhere_resolves_against_its_own_folder(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, copy.deepcopy(SAMPLE_DATA)))
    assert campaign.base_dir == tmp_path


def test_unknown_stakeholder_group(tmp_path: Path) -> None:
    data = copy.deepcopy(SAMPLE_DATA)
    data["audience"]["sources"][1]["group"] = "sport"
    message = error_of(write(tmp_path, data))
    assert "audience.sources.1.group" in message
    assert "'sport'" in message
    assert "jst" in message  # lists the known groups


def test_ends_before_it_starts(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, changed(ends_at="2016-09-07T09:00:00")))
    assert "ends_at" in message


def test_ends_when_it_starts(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, changed(ends_at="2016-09-07T10:00:00")))
    assert "ends_at" in message


def test_unknown_time_zone(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, changed(timezone="Europe/Bialystok")))
    assert "event.timezone" in message
    assert "Europe/Bialystok" in message


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "zepsuta.yaml"
    path.write_text(
        "id: ekonomia\nevent:\n  title: [bez nawiasu\n  kind: seminarium\n", encoding="utf-8"
    )
    message = error_of(path)
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: ", message), message
    assert message.startswith(f"{path}:4:")  # where the parser gave up


def test_unknown_message_kind_lists_the_declared_ones() -> None:
    campaign = load_campaign(SAMPLE)
    with pytest.raises(CampaignError) as info:
        campaign.message("nope")
    message = str(info.value)
    assert "'nope'" in message
    for kind in ("invitation", "reminder", "thank_you"):
        assert kind in message


def test_unknown_top_level_field(tmp_path: Path) -> None:
    data = copy.deepcopy(SAMPLE_DATA)
    data["kolor"] = "czerwony"
    message = error_of(write(tmp_path, data))
    assert "kolor" in message


def test_unknown_nested_field(tmp_path: Path) -> None:
    data = copy.deepcopy(SAMPLE_DATA)
    data["event"]["venue"]["pietro"] = 2
    assert "event.venue.pietro" in error_of(write(tmp_path, data))


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "lista.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    assert "mapping" in error_of(path)


def test_missing_file(tmp_path: Path) -> None:
    error_of(tmp_path / "nie-ma.yaml")


def test_campaign_error_is_a_value_error() -> None:
    assert issubclass(CampaignError, ValueError)


def with_message(**spec: Any) -> dict[str, Any]:
    data = copy.deepcopy(SAMPLE_DATA)
    data["messages"]["reminder"] = {"template": "reminder", "subject": "Przypomnienie", **spec}
    return data


def test_follow_up_rules_read_as_written() -> None:
    campaign = load_campaign(SAMPLE)
    reminder = campaign.message("reminder")
    assert reminder.audience == ["yes", "no_answer"]  # a bare YAML yes is the word, not True
    assert reminder.not_within == dt.timedelta(hours=24)
    assert reminder.scheduled is not None and reminder.scheduled.at == dt.time(9, 0)
    thanks = campaign.message("thank_you")
    assert thanks.scheduled is not None and thanks.scheduled.after_end == dt.timedelta(days=1)
    assert (thanks.audience, thanks.needs_attendance) == (["attended"], "closed")
    assert campaign.message("invitation").scheduled is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"send": "later"}, "send: later is gone; use send: now"),
        ({"send": {"before_start": "2 weeks"}}, "is not a duration such as 30m, 24h or 2d"),
        (
            {"send": {"before_start": "2d", "after_end": "1d"}},
            "exactly one of before_start and after_end",
        ),
        ({"send": {"at": "09:00"}}, "exactly one of before_start and after_end"),
        (
            {"send": {"before_start": "2d"}, "audience": ["attended"]},
            "attended or absent is known only after the event",
        ),
        ({"send": {"after_end": "1d"}, "audience": []}, "an empty list matches nobody"),
        ({"not_within": "24h"}, "not_within applies to scheduled messages only"),
        ({"audience": ["attended"]}, "attended or absent needs a schedule after the event"),
        ({"send": {"after_end": "1d"}, "audience": ["maybe"]}, "messages.reminder.audience.0"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_when_loaded(
    tmp_path: Path, spec: dict[str, Any], expected: str
) -> None:
    assert expected in error_of(write(tmp_path, with_message(**spec)))
