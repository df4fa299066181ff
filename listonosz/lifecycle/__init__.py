"""The event's lifecycle after the invitation: who answered, who came, and which follow-ups
are due for whom."""

from listonosz.lifecycle.attendance import (
    AttendanceFileError,
    Guest,
    Matched,
    SignedRow,
    match_attendance,
    read_signed_list,
    search,
)
from listonosz.lifecycle.campaigns import CampaignBook
from listonosz.lifecycle.followups import (
    CampaignState,
    FollowUp,
    attendance_final,
    audience_of,
    due_at,
    follow_ups,
    read_state,
)
from listonosz.lifecycle.rsvp import Closed, Invitation, Rsvp, RsvpError, closed_for

__all__ = [
    "AttendanceFileError",
    "CampaignBook",
    "CampaignState",
    "Closed",
    "FollowUp",
    "Guest",
    "Invitation",
    "Matched",
    "Rsvp",
    "RsvpError",
    "SignedRow",
    "attendance_final",
    "audience_of",
    "closed_for",
    "due_at",
    "follow_ups",
    "match_attendance",
    "read_signed_list",
    "read_state",
    "search",
]
