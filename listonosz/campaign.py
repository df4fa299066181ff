"""Campaign and event definitions: the pydantic models of ``campaigns/*.yaml``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from listonosz.contacts.groups import STAKEHOLDER_GROUPS
from listonosz.errors import ListonoszError


class CampaignError(ListonoszError, ValueError):
    """A campaign file that cannot be used; the message says which file and field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Venue(_Model):
    name: str
    address: str
    city: str


class Organiser(_Model):
    name: str
    short_name: str
    website: str
    email: EmailStr
    phone: str = ""


class Project(_Model):
    name: str
    funding: str


class Registration(_Model):
    deadline: dt.date | None = None


class ProgrammeItem(_Model):
    time: str = Field(pattern=r"^\d{1,2}:\d{2}$")
    title: str
    speaker: str | None = None
    affiliation: str | None = None


class Material(_Model):
    """A link sent after the event: slides, recordings, a survey."""

    title: str
    url: str = Field(pattern=r"^https?://\S+$")


class Event(_Model):
    title: str
    kind: str = "wydarzenie"
    starts_at: dt.datetime
    ends_at: dt.datetime
    timezone: str = "Europe/Warsaw"
    venue: Venue
    organiser: Organiser
    project: Project
    registration: Registration = Registration()
    programme: list[ProgrammeItem] = []
    #: The calendar file's SEQUENCE: raise it whenever the date, time or place changes.
    sequence: int = Field(default=0, ge=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _zoned_and_ordered(self) -> Event:
        zone = ZoneInfo(self.timezone)
        for name in ("starts_at", "ends_at"):
            moment: dt.datetime = getattr(self, name)
            if moment.tzinfo is None:
                object.__setattr__(self, name, moment.replace(tzinfo=zone))
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Sender(_Model):
    name: str
    email: EmailStr
    reply_to: EmailStr | None = None
    #: Where bounces go; each message's envelope sender becomes local+<ledger key>@domain (VERP).
    bounce_address: EmailStr | None = None

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[1]


class Source(_Model):
    """One contact list, the stakeholder group its people belong to, and how to read it.

    ``group`` may be left out when the file has a group column (Grupa). ``encoding``,
    ``delimiter`` and ``sheet`` override detection; ``columns`` maps a field (``email``,
    ``first_name`` …) to the header that holds it; ``legal_basis`` applies to rows that do
    not say (``consent`` or ``public_task``).
    """

    path: Path
    group: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    columns: dict[str, str] | None = None
    legal_basis: Literal["consent", "public_task", ""] = ""

    @field_validator("group")
    @classmethod
    def _known_group(cls, value: str) -> str:
        if value and value not in STAKEHOLDER_GROUPS:
            known = ", ".join(STAKEHOLDER_GROUPS)
            raise ValueError(f"unknown stakeholder group {value!r}; known groups: {known}")
        return value


class Audience(_Model):
    sources: list[Source] = Field(min_length=1)
    groups: list[str] | None = None


class MessageSpec(_Model):
    """One message kind of a campaign: its templates and subject (a Jinja string)."""

    template: str
    subject: str
    send: Literal["now", "later"] = "now"
    #: Sent by a schedule, not by a person: marks messages Auto-Submitted (RFC 3834).
    auto_submitted: bool = False
    #: Only for people who consented (a newsletter is not part of the public task).
    consent_required: bool = False
    #: Links the message offers (thank-you: slides and recordings).
    materials: list[Material] = []


class Campaign(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)
    event: Event
    sender: Sender
    audience: Audience
    messages: dict[str, MessageSpec] = Field(min_length=1)
    transport: str | None = None
    templates: Path = Path("templates")
    base_dir: Path = Path(".")

    def message(self, kind: str) -> MessageSpec:
        """The message spec of ``kind``, or an error listing the kinds this campaign declares."""
        try:
            return self.messages[kind]
        except KeyError:
            known = ", ".join(self.messages)
            raise CampaignError(
                f"campaign {self.id!r} declares no message {kind!r}; declared: {known}"
            ) from None

    def source_path(self, source: Source) -> Path:
        """A contact list's path, resolved against the campaign's base directory."""
        return self.base_dir / source.path  # an absolute source.path stays as it is

    @property
    def templates_dir(self) -> Path:
        return self.base_dir / self.templates


def load_campaign(path: str | Path, base_dir: str | Path | None = None) -> Campaign:
    """Read and validate a campaign file; errors name the file and the offending field.

    Relative contact paths resolve against ``base_dir`` (default: the campaign file's parent's
    parent when the file sits in a ``campaigns/`` folder, else its own folder).
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read campaign file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise CampaignError(f"{path}{where}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CampaignError(f"{path}: a campaign file must be a mapping of fields")
    if base_dir is None:
        parent = path.resolve().parent
        base_dir = parent.parent if parent.name == "campaigns" else parent
    try:
        return Campaign.model_validate({**data, "base_dir": Path(base_dir)})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise CampaignError(f"{path}: {problems}") from None
