"""The event's lifecycle after the invitation: who answered, and (later) who came and which
follow-ups are due."""

from listonosz.lifecycle.campaigns import CampaignBook
from listonosz.lifecycle.rsvp import Closed, Invitation, Rsvp, RsvpError, closed_for

__all__ = ["CampaignBook", "Closed", "Invitation", "Rsvp", "RsvpError", "closed_for"]
