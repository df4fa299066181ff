"""Render every recipient's message before the first one is sent; list every failure.

A campaign whose template breaks for one person in a hundred must not send the other
ninety-nine and then stop: :func:`preflight` renders them all first and raises
:class:`PreflightError` naming each recipient, template, line and missing value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.errors import ListonoszError
from listonosz.render.diagnostics import RenderError, RenderFailure
from listonosz.render.environment import MessageRenderer
from listonosz.render.model import Links

#: Links used when the caller has no real ones: rendering must not depend on their value.
PREFLIGHT_LINKS = Links(
    unsubscribe="https://listonosz.invalid/u/preflight",
    rsvp_yes="https://listonosz.invalid/r/preflight-yes",
    rsvp_no="https://listonosz.invalid/r/preflight-no",
)
#: How many recipients are also rendered the slow way, to check compiling once gives equal bytes.
CROSS_CHECKED = 2


class PreflightError(ListonoszError, ValueError):
    """Some recipients' messages cannot be rendered; nothing may be sent."""

    def __init__(self, kind: str, failures: Sequence[RenderFailure], recipients: int) -> None:
        self.kind = kind
        self.failures = list(failures)
        self.recipients = recipients
        super().__init__(self._describe())

    def _describe(self) -> str:
        people = {f.recipient for f in self.failures}
        lines = [
            f"message {self.kind!r} cannot be rendered for {len(people)} of "
            f"{self.recipients} recipients; nothing is sent. Fix the template or the data:"
        ]
        grouped: dict[tuple[str, int | None, str], list[str]] = defaultdict(list)
        for failure in self.failures:
            grouped[(failure.template, failure.line, failure.problem)].append(failure.recipient)
        for (template, line, problem), recipients in grouped.items():
            where = f"{template}:{line}" if line else template
            who = ", ".join(r or "every recipient" for r in recipients)
            lines.append(f"  {where}: {problem}\n    recipients ({len(recipients)}): {who}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class PreflightReport:
    """What a successful preflight checked."""

    kind: str
    recipients: int
    inlining: str  # "once per template", or "per message: <why>"


def preflight(
    campaign: Campaign,
    kind: str,
    recipients: Sequence[Contact],
    templates_dir: Path | None = None,
    links: Callable[[Contact], Links] | None = None,
    renderer: MessageRenderer | None = None,
) -> PreflightReport:
    """Render ``kind`` for every recipient; :class:`PreflightError` lists every failure.

    ``links`` gives each recipient's links (default: placeholders). A few recipients are also
    rendered with premailer run per message, to prove the message compiled once is identical.
    """
    try:
        renderer = renderer or MessageRenderer(
            campaign, kind, templates_dir or campaign.templates_dir
        )
    except RenderError as exc:
        raise PreflightError(kind, [exc.failure], len(recipients)) from None
    links_of = links or (lambda _contact: PREFLIGHT_LINKS)
    failures = cross_check(renderer, recipients[:CROSS_CHECKED], links_of)
    for contact in recipients:
        try:
            renderer.render(contact, links_of(contact))
        except RenderError as exc:
            failures.append(exc.failure)
    if failures:
        raise PreflightError(kind, failures, len(recipients))
    return PreflightReport(kind, len(recipients), renderer.inline_note)


def cross_check(
    renderer: MessageRenderer, sample: Sequence[Contact], links_of: Callable[[Contact], Links]
) -> list[RenderFailure]:
    """The sample's messages compiled once must equal premailer run on each; else a failure.

    Recipients whose message cannot be rendered at all are left to the caller's full pass.
    """
    if renderer.inlined is None:
        return []
    failures = []
    for contact in sample:
        links = links_of(contact)
        try:
            same = renderer.render(contact, links) == renderer.render_per_message(contact, links)
        except RenderError:
            continue
        if not same:
            failures.append(
                RenderFailure(
                    contact.email,
                    renderer.html_name,
                    None,
                    "the message compiled once differs from premailer run on this message "
                    "(a bug in Listonosz: please report it with this template)",
                )
            )
    return failures
