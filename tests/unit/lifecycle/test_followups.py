"""What is due when: the follow-up rules of the seminar campaign against a moving clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.lifecycle import CampaignState, FollowUp, due_at, follow_ups
from listonosz.store import Participant

WARSAW = ZoneInfo("Europe/Warsaw")
# the seminar: 7 September 2016, 10:00–14:00 in Białystok
START = dt.datetime(2016, 9, 7, 10, 0, tzinfo=WARSAW)
PEOPLE = ["tak1@x.pl", "tak2@x.pl", "nie@x.pl", "zmiana@x.pl", "cisza@x.pl", "obcy@x.pl"]
CONTACTS = [Contact(email) for email in PEOPLE]


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2016, 9, day, hour, minute, tzinfo=WARSAW)


def answered(
    email: str, answer: str, when: dt.datetime, attended: str | None = None
) -> Participant:
    return Participant("ekonomia-spoleczna-2016", email, answer, when, "web", attended)


def state(
    participants: list[Participant], closed: dt.datetime | None = None, **settled: set[str]
) -> CampaignState:
    invited = frozenset(PEOPLE[:5])  # obcy@ never got the invitation
    return CampaignState(
        participants,
        invited,
        closed,
        {kind: frozenset(who) for kind, who in settled.items()},
    )


def by_kind(items: list[FollowUp]) -> dict[str, FollowUp]:
    return {item.kind: item for item in items}


def test_the_rules_fall_on_the_calendar(campaign: Campaign) -> None:
    assert due_at(campaign, campaign.message("reminder")) == at(5, 9)
    assert due_at(campaign, campaign.message("thank_you")) == at(8, 10)
    assert due_at(campaign, campaign.message("we_missed_you")) == at(8, 10)


def test_the_reminder_goes_to_yes_and_no_answer_but_not_to_a_fresh_answer(
    campaign: Campaign,
) -> None:
    answers = [
        answered("tak1@x.pl", "yes", at(1, 12)),
        answered("tak2@x.pl", "yes", at(2, 12)),
        answered("nie@x.pl", "no", at(2, 13)),
        answered("zmiana@x.pl", "no", at(5, 8)),  # yes, then no an hour before the reminder
    ]
    before = by_kind(follow_ups(campaign, CONTACTS, state(answers), at(5, 8, 59)))
    assert before["reminder"].state == "not_yet"
    now = by_kind(follow_ups(campaign, CONTACTS, state(answers), at(5, 9, 5)))
    assert now["reminder"].state == "due"
    assert set(now["reminder"].recipients) == {"tak1@x.pl", "tak2@x.pl", "cisza@x.pl"}
    # once sent, the next run finds nobody left
    done = state(answers, reminder={"tak1@x.pl", "tak2@x.pl", "cisza@x.pl"})
    again = by_kind(follow_ups(campaign, CONTACTS, done, at(5, 9, 20)))
    assert again["reminder"].recipients == ()
    assert now["thank_you"].state == "not_yet"


def test_thanks_wait_for_attendance_then_go_to_the_right_people(campaign: Campaign) -> None:
    people = [
        answered("tak1@x.pl", "yes", at(1, 12), attended="attended"),
        answered("tak2@x.pl", "yes", at(2, 12)),  # said yes, did not come
        answered("nie@x.pl", "no", at(2, 13)),
        Participant("ekonomia-spoleczna-2016", "cisza@x.pl", None, None, None, "attended"),
    ]
    open_ = by_kind(follow_ups(campaign, CONTACTS, state(people), at(8, 10, 5)))
    assert open_["thank_you"].state == "waiting"
    assert open_["we_missed_you"].state == "waiting"
    closed = state(people, closed=at(8, 9))
    after = by_kind(follow_ups(campaign, CONTACTS, closed, at(8, 10, 5)))
    assert set(after["thank_you"].recipients) == {"tak1@x.pl", "cisza@x.pl"}
    assert set(after["we_missed_you"].recipients) == {"tak2@x.pl"}
    assert after["reminder"].state == "missed"  # its window closed two days after 5 Sept


def test_attendance_closes_by_itself_after_its_grace_period(campaign: Campaign) -> None:
    people = [answered("tak1@x.pl", "yes", at(1, 12), attended="attended")]
    waiting = by_kind(follow_ups(campaign, CONTACTS, state(people), at(8, 13, 59)))
    assert waiting["thank_you"].state == "waiting"
    later = by_kind(follow_ups(campaign, CONTACTS, state(people), at(8, 14, 1)))
    assert later["thank_you"].state == "due"  # the event ended on the 7th at 14:00, plus 1 day


def test_a_run_three_days_late_sends_nothing_and_reports_missed(campaign: Campaign) -> None:
    people = [answered("tak1@x.pl", "yes", at(1, 12), attended="attended")]
    late = by_kind(follow_ups(campaign, CONTACTS, state(people, closed=at(8, 9)), at(11, 10, 1)))
    assert late["thank_you"].state == "missed"
    assert late["thank_you"].recipients == ("tak1@x.pl",)
    assert "window closed at 2016-09-10 10:00" in late["thank_you"].reason
