"""The Jinja environment and the renderer of one message kind of one campaign."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
)

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.render.diagnostics import RenderError, RenderFailure, describe
from listonosz.render.ics import calendar_attachment
from listonosz.render.inline import InlinedTemplate, inline_css, inline_template
from listonosz.render.model import Attachment, Links, RenderedMessage
from listonosz.render.polish import (
    date_pl,
    on_weekday_pl,
    plural_form,
    plural_pl,
    time_pl,
    weekday_pl,
)
from listonosz.render.salutations import salutation
from listonosz.render.sandbox import RENDER_SECONDS, TemplateSandbox, message_budget
from listonosz.render.serialise import NeedsFullInlining
from listonosz.render.source import UnsupportedTemplate
from listonosz.render.text import html_to_text, wrap_pl

__all__ = [
    "CALENDAR_KINDS",
    "Attachment",
    "Links",
    "MessageRenderer",
    "RenderError",
    "RenderFailure",
    "RenderedMessage",
    "make_environment",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Message kinds that carry the event's calendar file.
CALENDAR_KINDS = frozenset({"invitation", "reminder", "update", "cancellation"})


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html.j2", ".html"))


def in_group(contact: Contact, *groups: str) -> bool:
    """Jinja test: ``{% if contact is in_group("jst", "ngo") %}``."""
    return any(group in contact.groups for group in groups)


def make_environment(
    templates_dir: Path,
    render_seconds: float = RENDER_SECONDS,
    constants: Mapping[str, Any] | None = None,
    sources: Iterable[str] = (),
) -> TemplateSandbox:
    """Strict (a missing variable is an error), HTML autoescaped, with the Polish filters.

    Templates are written by campaign authors, so they run in the template sandbox
    (:mod:`listonosz.render.sandbox`): no Python internals, bounded loops, sizes and time.
    ``constants`` (with ``sources``, the templates compiled from strings) are what every render
    shares, folded into the templates when they are compiled (:mod:`listonosz.render.folding`).
    """
    env = TemplateSandbox(
        loader=FileSystemLoader(templates_dir),
        undefined=StrictUndefined,
        autoescape=_autoescape,
        keep_trailing_newline=True,
        # One environment serves one run: all its messages from the templates as they were
        # when it began, without a look at the file of every include for every message.
        auto_reload=False,
        render_seconds=render_seconds,
        constants=constants,
        sources=sources,
    )
    env.add_filters(
        date_pl=date_pl,
        time_pl=time_pl,
        weekday_pl=weekday_pl,
        on_weekday_pl=on_weekday_pl,
        plural=plural_pl,
        plural_form=plural_form,
        wrap=wrap_pl,
    )
    env.tests["in_group"] = in_group
    return env


class MessageRenderer:
    """Renders subject, inlined HTML and text of one message kind, one recipient at a time.

    The HTML template's CSS is inlined once, here (see :mod:`listonosz.render.inline`); the
    text part comes from ``<template>.txt.j2``, or from the HTML when there is no such file.
    :meth:`render` uses templates compiled with what every recipient shares folded in
    (:mod:`listonosz.render.folding`); :meth:`render_per_message`, the reference, compiles them
    plainly and runs premailer on each message.
    """

    def __init__(
        self,
        campaign: Campaign,
        kind: str,
        templates_dir: Path,
        *,
        now: dt.datetime | None = None,
        inline_once: bool = True,
        render_seconds: float = RENDER_SECONDS,
    ) -> None:
        spec = campaign.message(kind)
        self.campaign = campaign
        self.kind = kind
        self.templates_dir = Path(templates_dir)
        self.render_seconds = render_seconds
        self._shared = {
            "event": campaign.event,
            "sender": campaign.sender,
            "kind": kind,
            "materials": tuple(spec.materials),
        }
        self.env = make_environment(self.templates_dir, render_seconds)
        self.html_name = f"{spec.template}.html.j2"
        self.text_name = f"{spec.template}.txt.j2"
        self._subject = self._compile(lambda: self.env.from_string(spec.subject), "subject")
        self._html = self._compile(lambda: self.env.get_template(self.html_name), self.html_name)
        self._text = self._optional(self.env, self.text_name)
        # The fast path's environment: the same templates with the shared values folded in.
        self.folding_env = make_environment(
            self.templates_dir, render_seconds, constants=self._shared, sources=[spec.subject]
        )
        fast = self.folding_env
        self._fast_subject = self._compile(lambda: fast.from_string(spec.subject), "subject")
        self._fast_text = self._optional(fast, self.text_name)
        self.refused: RenderFailure | None = None  # the sandbox's first refusal, if any
        self.inlined: InlinedTemplate | None = None
        self.inline_note = "per message: switched off"
        if inline_once:
            self._inline_once()
        self.attachments: tuple[Attachment, ...] = ()
        if kind in CALENDAR_KINDS:
            stamp = now or dt.datetime.now(dt.UTC)  # one DTSTAMP for the whole run
            sequence, cancelled = campaign.event.sequence, kind == "cancellation"
            self.attachments = (calendar_attachment(campaign, stamp, sequence, cancelled),)

    def _compile(self, load: Callable[[], T], name: str) -> T:
        """``load()``; a missing template or a syntax error becomes a located RenderError."""
        try:
            return load()
        except TemplateNotFound as exc:
            raise RenderError(RenderFailure("", name, None, f"template not found: {exc}")) from None
        except TemplateSyntaxError as exc:
            raise RenderError(describe(exc, "", name, self.templates_dir)) from None

    def _optional(self, env: TemplateSandbox, name: str) -> Template | None:
        if not (self.templates_dir / name).is_file():
            return None
        return self._compile(lambda: env.get_template(name), name)

    def _inline_once(self) -> None:
        try:
            from_html = self._text is None  # no text template: the text comes from the HTML
            self.inlined = self._compile(
                lambda: inline_template(self.folding_env, self.html_name, text=from_html),
                self.html_name,
            )
            self.inline_note = "once per template"
        except UnsupportedTemplate as exc:
            self.inline_note = f"per message: {exc}"
            log.warning("%s: CSS will be inlined per message: %s", self.html_name, exc)

    def context(self, contact: Contact, links: Links) -> dict[str, Any]:
        """What the templates see for one recipient."""
        return {
            **self._shared,
            "contact": contact,
            "salutation": salutation(contact),
            "links": links,
        }

    def render(self, contact: Contact, links: Links) -> RenderedMessage:
        """The recipient's message; :class:`RenderError` names the template line that failed."""
        self._check_refused(contact)
        with message_budget(self.render_seconds):
            try:
                return self._render(contact, links)
            except RenderError as exc:
                self._remember(exc)
                raise

    def _render(self, contact: Contact, links: Links) -> RenderedMessage:
        context = self.context(contact, links)
        subject = self._run(self._fast_subject, context, contact, "subject")
        html, compiled_once = self._render_html(context, contact)
        if compiled_once and self._text is None and self.inlined is not None:
            try:
                text = self.inlined.render_text(context)
            except NeedsFullInlining:
                text = html_to_text(html)
        else:
            text = self._render_text(self._fast_text, context, contact, html)
        return RenderedMessage(" ".join(subject.split()), html, text, self.attachments)

    def render_per_message(self, contact: Contact, links: Links) -> RenderedMessage:
        """The same message with premailer run on the rendered HTML (the reference path)."""
        self._check_refused(contact)
        with message_budget(self.render_seconds):
            try:
                return self._render_per_message(contact, links)
            except RenderError as exc:
                self._remember(exc)
                raise

    def _remember(self, exc: RenderError) -> None:
        if exc.failure.refused and self.refused is None:
            self.refused = exc.failure

    def _check_refused(self, contact: Contact) -> None:
        """Once the sandbox refused this message kind, the others fail at once: a template
        that ran out of time would otherwise take that long for every recipient."""
        if (first := self.refused) is not None:
            if contact.email == first.recipient:
                raise RenderError(first)
            problem = f"not rendered: the template sandbox refused it for {first.recipient}"
            raise RenderError(RenderFailure(contact.email, first.template, first.line, problem))

    def _render_per_message(self, contact: Contact, links: Links) -> RenderedMessage:
        context = self.context(contact, links)
        subject = self._run(self._subject, context, contact, "subject")
        html = inline_css(self._run(self._html, context, contact, self.html_name))
        text = self._render_text(self._text, context, contact, html)
        return RenderedMessage(" ".join(subject.split()), html, text, self.attachments)

    def _render_html(self, context: dict[str, Any], contact: Contact) -> tuple[str, bool]:
        """The inlined HTML, and whether it came from the template inlined once."""
        if self.inlined is not None:
            try:
                return self.inlined.render(context), True
            except NeedsFullInlining:
                pass
            except Exception as exc:
                # The plain template fails the same way and names the file and line.
                self._run(self._html, context, contact, self.html_name)
                failure = describe(exc, contact.email, self.html_name, self.templates_dir)
                raise RenderError(failure) from None
        return inline_css(self._run(self._html, context, contact, self.html_name)), False

    def _render_text(
        self, template: Template | None, context: dict[str, Any], contact: Contact, html: str
    ) -> str:
        if template is None:
            return html_to_text(html)
        return self._run(template, context, contact, self.text_name)

    def _run(self, template: Template, context: dict[str, Any], contact: Contact, name: str) -> str:
        try:
            return template.render(context)
        except Exception as exc:
            raise RenderError(describe(exc, contact.email, name, self.templates_dir)) from None
