"""Why a message could not be rendered, said the way a template author can act on it."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from pathlib import Path

from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from listonosz.errors import ListonoszError


@dataclass(frozen=True, slots=True)
class RenderFailure:
    """One recipient's message failing at one template line."""

    recipient: str  # the address, or "" when no recipient can be rendered at all
    template: str  # e.g. "invitation.html.j2", or "subject"
    line: int | None
    problem: str  # e.g. "'contact' has no attribute 'nickname'"
    refused: bool = False  # the template sandbox refused it (not the recipient's data)

    @property
    def where(self) -> str:
        return f"{self.template}:{self.line}" if self.line else self.template

    def __str__(self) -> str:
        who = self.recipient or "every recipient"
        return f"{who}: {self.where}: {self.problem}"


class RenderError(ListonoszError, ValueError):
    """A template that cannot be rendered for a recipient; says which, where and why."""

    def __init__(self, failure: RenderFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


def describe(
    exc: BaseException, recipient: str, template: str, templates_dir: Path
) -> RenderFailure:
    """The failure behind ``exc``, located at the template line Jinja reports.

    ``template`` names the template being rendered, used when the traceback names none (a
    subject line compiled from a string).
    """
    if isinstance(exc, TemplateSyntaxError):
        name = _relative(exc.filename, templates_dir) if exc.filename else (exc.name or template)
        return RenderFailure(recipient, name, exc.lineno, f"syntax error: {exc.message}")
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if not frame.filename.endswith(".py"):
            line = frame.lineno
            if frame.filename != "<template>":
                template = _relative(frame.filename, templates_dir)
    if isinstance(exc, SecurityError):
        return RenderFailure(
            recipient, template, line, f"refused by the template sandbox: {exc}", True
        )
    problem = (
        _plain(str(exc)) if isinstance(exc, UndefinedError) else f"{type(exc).__name__}: {exc}"
    )
    return RenderFailure(recipient, template, line, problem)


_OBJECT = re.compile(r"^'(?:[\w.]+\.)?(\w+) object' has no attribute")


def _plain(message: str) -> str:
    """Jinja's "'listonosz.contacts.model.Contact object' has no attribute 'x'", shortened."""
    return _OBJECT.sub(lambda m: f"{m.group(1)} has no attribute", message)


def _relative(filename: str, templates_dir: Path) -> str:
    try:
        return Path(filename).resolve().relative_to(templates_dir.resolve()).as_posix()
    except ValueError:
        return filename
