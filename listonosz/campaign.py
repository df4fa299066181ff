"""Campaign and event definitions: the pydantic models of ``campaigns/*.yaml``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from listonosz.config import Settings
from listonosz.contacts.groups import STAKEHOLDER_GROUPS
from listonosz.errors import ListonoszError
from listonosz.paths import PathError, confine, within


class CampaignError(ListonoszError, ValueError):
    """A campaign file that cannot be used; the message says which file and field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_DURATION = re.compile(r"^\s*(\d+)\s*(m|h|d)\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: object) -> dt.timedelta:
    """``30m``, ``24h``, ``2d`` (or a timedelta) as a timedelta; anything else raises."""
    if isinstance(value, dt.timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 30m, 24h or 2d")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration)]

#: Who a scheduled message goes to, by their state in the campaign: answered yes or no, not
#: answered (but invited), came, or said yes and did not come.
AudienceState = Annotated[
    Literal["yes", "no", "no_answer", "attended", "absent"],
    # YAML 1.1 reads a bare yes and no as booleans: take them back as the words staff wrote
    BeforeValidator(lambda v: {True: "yes", False: "no"}.get(v, v) if isinstance(v, bool) else v),
]


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
    #: Attendance counts as closed this long after the end even if staff never close it.
    attendance_closes: Duration = dt.timedelta(days=1)

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
    #: Where bounces go; each message's envelope sender becomes local+<ledger key>.<MAC>@domain
    #: (VERP, signed: see listonosz.tracking.verp), read over IMAP (settings: bounces).
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


class Schedule(_Model):
    """When a follow-up is due: a time before the event starts or after it ends, at a local
    time of day in the event's zone (or at that moment exactly when ``at`` is left out)."""

    before_start: Duration | None = None
    after_end: Duration | None = None
    at: dt.time | None = None

    @model_validator(mode="after")
    def _one_anchor(self) -> Schedule:
        if (self.before_start is None) == (self.after_end is None):
            raise ValueError("a schedule has exactly one of before_start and after_end")
        return self


class MessageSpec(_Model):
    """One message kind of a campaign: its templates and subject (a Jinja string), and when it
    goes: ``now`` (when staff send it) or on a schedule, to an audience by RSVP and attendance.
    """

    template: str
    subject: str
    send: Literal["now"] | Schedule = "now"
    #: Who gets it, by RSVP and attendance (everyone on the lists when left out).
    audience: list[AudienceState] | None = None
    #: Not to someone who answered within this long before the message is due.
    not_within: Duration | None = None
    #: ``closed``: wait until staff close attendance (or ``attendance_deadline`` passes).
    needs_attendance: Literal["closed"] | None = None
    #: How long after it was due a scheduled message may still go; after that it is missed.
    stale_after: Duration = dt.timedelta(days=2)
    #: Sent by a schedule, not by a person: marks messages Auto-Submitted (RFC 3834).
    auto_submitted: bool = False
    #: Only for people who consented (a newsletter is not part of the public task).
    consent_required: bool = False
    #: Links the message offers (thank-you: slides and recordings).
    materials: list[Material] = []

    @field_validator("send", mode="before")
    @classmethod
    def _no_later(cls, value: object) -> object:
        if value == "later":
            raise ValueError(
                "send: later is gone; use send: now (staff send it) or a schedule such as "
                "send: {before_start: 2d, at: '09:00'} or send: {after_end: 1d, at: '10:00'}"
            )
        return value

    @property
    def scheduled(self) -> Schedule | None:
        """The schedule, or None for a message staff send by hand."""
        return self.send if isinstance(self.send, Schedule) else None

    @model_validator(mode="after")
    def _rules_that_can_match(self) -> MessageSpec:
        if self.audience is not None and not self.audience:
            raise ValueError("audience: an empty list matches nobody; leave it out for everyone")
        if self.scheduled is None:
            for name in ("not_within", "needs_attendance"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} applies to scheduled messages only (send: {{…}})")
            if self.audience and {"attended", "absent"} & set(self.audience):
                raise ValueError(
                    "audience: attended or absent needs a schedule after the event "
                    "(send: {after_end: …}) so that attendance is known"
                )
            return self
        attendance = {"attended", "absent"}
        if self.audience and attendance & set(self.audience) and self.scheduled.after_end is None:
            raise ValueError(
                "audience: attended or absent is known only after the event; "
                "send such a message after_end"
            )
        return self

    #: A newsletter: people who unsubscribed from newsletters only do not get it. A message
    #: kind named ``newsletter`` is one without saying so.
    newsletter: bool = False


class Campaign(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)
    event: Event
    sender: Sender
    audience: Audience
    messages: dict[str, MessageSpec] = Field(min_length=1)
    transport: str | None = None
    templates: Path = Path("templates")
    # Set by load_campaign, never by the file (see RESERVED): where the campaign's files may be.
    base_dir: Path = Path(".")
    allowed_dirs: tuple[Path, ...] = ()
    var_dir: Path | None = None

    def message(self, kind: str) -> MessageSpec:
        """The message spec of ``kind``, or an error listing the kinds this campaign declares."""
        try:
            return self.messages[kind]
        except KeyError:
            known = ", ".join(self.messages)
            raise CampaignError(
                f"campaign {self.id!r} declares no message {kind!r}; declared: {known}"
            ) from None

    def is_newsletter(self, kind: str) -> bool:
        """Whether ``kind`` is a newsletter (see :attr:`MessageSpec.newsletter`)."""
        return kind == "newsletter" or self.message(kind).newsletter

    def source_path(self, source: Source) -> Path:
        """A contact list's path, resolved against the campaign's base directory (the project
        directory); one outside it and the allowed folders, or inside var_dir, raises."""
        return self._confined(self.base_dir / source.path, "contact source")

    @property
    def templates_dir(self) -> Path:
        """The templates folder, confined like contact sources; it may not hold var_dir
        either, or a template could include the ledger or the token secret."""
        folder = self._confined(self.base_dir / self.templates, "templates folder")
        if self.var_dir is not None and within(self.var_dir, folder):
            raise PathError(
                f"templates folder {folder} holds var_dir {self.var_dir.resolve()} (the ledger "
                "and secrets); use a folder of templates only, such as templates/"
            )
        return folder

    def check_paths(self) -> list[str]:
        """Every path problem of the campaign, each as ``field: reason``."""
        problems = []
        for number, source in enumerate(self.audience.sources):
            try:
                self.source_path(source)
            except PathError as exc:
                problems.append(f"audience.sources.{number}.path: {exc}")
        try:
            self.templates_dir  # noqa: B018 - checked for its error
        except PathError as exc:
            problems.append(f"templates: {exc}")
        return problems

    def _confined(self, path: Path, what: str) -> Path:
        closed = (self.var_dir,) if self.var_dir is not None else ()
        return confine(path, what, self.base_dir, self.allowed_dirs, closed)


#: Campaign fields that load_campaign sets and a campaign file may not.
RESERVED = ("base_dir", "allowed_dirs", "var_dir")
#: Fields every campaign file has: a mapping with none of them is some other file.
REQUIRED = tuple(name for name, info in Campaign.model_fields.items() if info.is_required())
#: Validation problems listed at most; a file with more is probably not a campaign.
MAX_PROBLEMS = 10


def load_campaign(
    path: str | Path,
    base_dir: str | Path | None = None,
    *,
    allowed_dirs: Iterable[Path] = (),
    var_dir: Path | None = None,
) -> Campaign:
    """Read and validate a campaign file; errors name the file and the offending field.

    Relative contact paths resolve against ``base_dir`` (default: the campaign file's parent's
    parent when the file sits in a ``campaigns/`` folder, else its own folder): the project
    directory. Contact sources and the templates folder must lie inside it or in one of
    ``allowed_dirs``, and not inside ``var_dir``. No error shows the file's content beyond
    the names of its fields.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read campaign file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CampaignError(
            f"{path}: not a campaign file: not UTF-8 text (byte {exc.start})"
        ) from None
    except yaml.YAMLError as exc:
        raise CampaignError(f"{path}{_yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise CampaignError(f"{path}: a campaign file must be a mapping of fields")
    if not any(name in data for name in REQUIRED):
        raise CampaignError(
            f"{path}: not a campaign file (it has none of the fields {', '.join(REQUIRED)})"
        )
    if reserved := [name for name in RESERVED if name in data]:
        raise CampaignError(
            f"{path}: {', '.join(reserved)}: set by Listonosz, not a campaign field"
        )
    if base_dir is None:
        parent = path.resolve().parent
        base_dir = parent.parent if parent.name == "campaigns" else parent
    fields = {"base_dir": Path(base_dir), "allowed_dirs": tuple(allowed_dirs), "var_dir": var_dir}
    try:
        campaign = Campaign.model_validate({**data, **fields})
    except ValidationError as exc:
        errors = exc.errors()
        problems = [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in errors[:MAX_PROBLEMS]
        ]
        if len(errors) > MAX_PROBLEMS:
            problems.append(f"and {len(errors) - MAX_PROBLEMS} more")
        raise CampaignError(f"{path}: {'; '.join(problems)}") from None
    if problems := campaign.check_paths():
        raise CampaignError(f"{path}: {'; '.join(problems)}")
    return campaign


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what the YAML problem is, without the excerpt of the file PyYAML adds."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        what = "; ".join(part for part in (exc.context, exc.problem) if part)
        return f"{where}: not valid YAML: {what or 'a syntax error'}"
    if isinstance(exc, yaml.reader.ReaderError):
        return f": not valid YAML: a character YAML does not allow at position {exc.position}"
    return ": not valid YAML"


def open_campaign(path: str | Path, settings: Settings) -> Campaign:
    """The campaign at ``path`` (relative to the project directory), which must lie in the
    project's ``campaigns/`` folder, loaded with the settings' allowed folders and var_dir.

    This is how a run is given a campaign, from the command line or a Prefect form: a path
    elsewhere is refused before the file is opened, naming the path and never its content.
    """
    project = settings.project_dir
    path = project / Path(path)  # an absolute path stays as it is
    folder = project / "campaigns"
    if not within(path, folder):
        resolved = path.resolve()
        shown = str(path) if str(path) == str(resolved) else f"{path} ({resolved})"
        raise CampaignError(
            f"campaign file {shown} is not in the campaigns/ folder of the project directory "
            f"{project.resolve()}; put it there, or run listonosz from the project it belongs "
            "to (or set project_dir, LISTONOSZ_PROJECT_DIR)"
        )
    return load_campaign(path, allowed_dirs=settings.allowed_dirs, var_dir=settings.var_dir)
