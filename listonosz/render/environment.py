"""The Jinja environment and the renderer of one message kind of one campaign."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.errors import ListonoszError
from listonosz.render.inline import inline_css
from listonosz.render.polish import date_pl, salutation, time_pl, weekday_pl


class RenderError(ListonoszError, ValueError):
    """A template that cannot be rendered for a recipient; says which and where."""


@dataclass(frozen=True, slots=True)
class Links:
    unsubscribe: str


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    html: str
    text: str


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html.j2", ".html"))


def make_environment(templates_dir: Path) -> Environment:
    """Strict (a missing variable is an error), HTML autoescaped, with the Polish filters."""
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        undefined=StrictUndefined,
        autoescape=_autoescape,
        keep_trailing_newline=True,
    )
    env.filters.update(date_pl=date_pl, time_pl=time_pl, weekday_pl=weekday_pl)
    return env


class MessageRenderer:
    """Renders subject, inlined HTML and text of one message kind, for one recipient at a time."""

    def __init__(self, campaign: Campaign, kind: str, templates_dir: Path) -> None:
        spec = campaign.message(kind)
        self.campaign = campaign
        self.kind = kind
        env = make_environment(templates_dir)
        self._subject = env.from_string(spec.subject)
        self._html = self._load(env, f"{spec.template}.html.j2")
        self._text = self._load(env, f"{spec.template}.txt.j2")

    @staticmethod
    def _load(env: Environment, name: str) -> Template:
        try:
            return env.get_template(name)
        except Exception as exc:
            raise RenderError(f"template {name}: {exc}") from None

    def render(self, contact: Contact, links: Links) -> RenderedMessage:
        context = {
            "contact": contact,
            "salutation": salutation(contact),
            "event": self.campaign.event,
            "sender": self.campaign.sender,
            "links": links,
        }
        parts = []
        for template in (self._subject, self._html, self._text):
            try:
                parts.append(template.render(context))
            except Exception as exc:
                name = template.name or f"subject of {self.kind}"
                raise RenderError(f"{contact.email}: {name}: {exc}") from None
        subject = " ".join(parts[0].split())
        return RenderedMessage(subject=subject, html=inline_css(parts[1]), text=parts[2])
