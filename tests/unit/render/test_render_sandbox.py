"""Templates and subjects run in the template sandbox: no shell, no secrets, bounded work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.render.environment import MessageRenderer, RenderError, make_environment
from listonosz.render.preflight import PREFLIGHT_LINKS, PreflightError, preflight
from listonosz.render.sandbox import TemplateSandbox
from tests.conftest import REPO

SECRET_VARIABLE = "LISTONOSZ_TRANSPORTS__X__PASSWORD"
SECRET = "fake-smtp-password-5f1c9e"
ENV_SECRET = f"{{{{ cycler.__init__.__globals__.os.environ.{SECRET_VARIABLE} }}}}"
HUGE_LOOP = "{% for i in range(10**9) %}{{ i }}{% endfor %}"


def _with_subject(campaign: Campaign, subject: str, kind: str = "invitation") -> Campaign:
    spec = campaign.messages[kind].model_copy(update={"subject": subject})
    return campaign.model_copy(update={"messages": {**campaign.messages, kind: spec}})


def _prepend(path: Path, line: str, anchor: str = "<p>{{ salutation }},</p>") -> int:
    """Put ``line`` after the first line holding ``anchor``; return its line number."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, text in enumerate(lines) if anchor in text)
    lines.insert(index + 1, line + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return index + 2


def _render_error(renderer: MessageRenderer, contact: Contact) -> RenderError:
    with pytest.raises(RenderError) as error:
        renderer.render(contact, PREFLIGHT_LINKS)
    return error.value


def test_a_shell_command_in_the_subject_is_refused_and_never_runs(
    campaign: Campaign, audience: list[Contact], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    subject = f"{{{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}}}"
    renderer = MessageRenderer(_with_subject(campaign, subject), "invitation", REPO / "templates")
    error = _render_error(renderer, audience[0])
    assert str(error) == (
        f"{audience[0].email}: subject:1: refused by the template sandbox: "
        "access to attribute '__init__' of 'Cycler' is not allowed in templates"
    )
    assert not marker.exists()


@pytest.mark.parametrize("where", ["subject", "html", "text"])
def test_an_environment_secret_is_refused_and_never_shown(
    campaign: Campaign,
    audience: list[Contact],
    templates: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    if where == "subject":
        campaign = _with_subject(campaign, f"Zaproszenie {ENV_SECRET}")
        name = "subject:1"
    elif where == "html":
        name = f"invitation.html.j2:{_prepend(templates / 'invitation.html.j2', ENV_SECRET)}"
    else:
        text = templates / "invitation.txt.j2"
        name = f"invitation.txt.j2:{_prepend(text, ENV_SECRET, '{{ salutation }},')}"
    renderer = MessageRenderer(campaign, "invitation", templates)
    errors = [_render_error(renderer, contact) for contact in audience[:2]]
    assert f"{name}: refused by the template sandbox: access to attribute '__init__'" in str(
        errors[0]
    )
    assert "not rendered: the template sandbox refused it for" in str(errors[1])
    for error in errors:
        assert SECRET not in str(error) and SECRET not in repr(error.failure)
    # The per-message (premailer) path and a fresh renderer's preflight refuse it as well.
    with pytest.raises(RenderError):
        MessageRenderer(campaign, "invitation", templates).render_per_message(
            audience[0], PREFLIGHT_LINKS
        )
    with pytest.raises(PreflightError) as failed:
        preflight(campaign, "invitation", audience, templates)
    # The sample the preflight renders twice first must not hide the refusal itself.
    assert f"{name}: refused by the template sandbox: access to attribute" in str(failed.value)
    assert SECRET not in str(failed.value)


def test_a_billion_iterations_fail_at_once(
    campaign: Campaign, audience: list[Contact], templates: Path
) -> None:
    line = _prepend(templates / "invitation.html.j2", HUGE_LOOP)
    renderer = MessageRenderer(campaign, "invitation", templates)
    started = time.monotonic()
    error = _render_error(renderer, audience[0])
    assert time.monotonic() - started < 5
    assert str(error).endswith(
        f"invitation.html.j2:{line}: refused by the template sandbox: "
        "range() of 1,000,000,000 numbers is over the limit of 10,000"
    )


def test_loops_share_one_iteration_budget_per_message(
    campaign: Campaign, audience: list[Contact], templates: Path
) -> None:
    nested = "{% for i in range(5000) %}{% for j in range(5000) %}{% endfor %}{% endfor %}"
    _prepend(templates / "invitation.html.j2", nested)
    renderer = MessageRenderer(campaign, "invitation", templates)
    started = time.monotonic()
    error = _render_error(renderer, audience[0])
    assert time.monotonic() - started < 5
    assert "more than 100,000 loop iterations in one message" in str(error)


def test_a_message_that_takes_too_long_stops_and_the_others_are_not_tried(
    campaign: Campaign, audience: list[Contact], templates: Path
) -> None:
    slow = "{% for i in range(9000) %}{{ ('x' * 50000) | replace('x', 'yy') | length }}{% endfor %}"
    _prepend(templates / "invitation.html.j2", slow)
    renderer = MessageRenderer(campaign, "invitation", templates, render_seconds=0.2)
    started = time.monotonic()
    first = _render_error(renderer, audience[0])
    second = _render_error(renderer, audience[1])
    assert time.monotonic() - started < 5
    assert "rendering one message took longer than 0.2 s (the render_seconds setting)" in str(first)
    assert str(second).startswith(f"{audience[1].email}: invitation.html.j2:") and str(
        second
    ).endswith(f"not rendered: the template sandbox refused it for {audience[0].email}")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ 'x' * 10**9 }}", "a repetition of 1,000,000,000 characters or items"),
        ("{{ 'a' | center(10**9) }}", "the 'center' filter would make more than 1,000,000"),
        ("{{ 10 ** (10 ** 10) }}", "a power of 30,000,000,000 bits"),
        ("{{ 'x'.ljust(10**9) }}", "the number 1,000,000,000 is over the limit"),
        ("{{ '%0999999d' % 1 }}", "a %-format width of 999,999 characters"),
        ("{{ '{:>999999}'.format(1) }}", "a format width of 999,999 characters"),
        ("{{ [1] | batch(10**9, 'x') | list }}", "the 'batch' filter would make more"),
        ("{{ range(10) | join('x' * 999999) }}", "the 'join' filter would make more"),
        (
            "{% set s = namespace(v='x') %}{% for i in range(40) %}"
            "{% set s.v = s.v ~ s.v %}{% endfor %}",
            "a text of 1,048,576 characters is over the limit of 1,000,000",
        ),
        (
            "{% for i in range(2000) %}{{ 'y' * 999999 }}{% endfor %}",
            "an output of over 1,000,000 characters is over the limit",
        ),
        ("{% set l = [] %}{{ l.append(1) }}", "access to attribute 'append' of 'list'"),
        ("{{ event.parse_file('/etc/passwd') }}", "attribute 'parse_file' of 'Event'"),
        ("{{ event.model_dump() }}", "attribute 'model_dump' of 'Event'"),
    ],
)
def test_what_templates_may_not_do(
    campaign: Campaign, audience: list[Contact], source: str, problem: str
) -> None:
    renderer = MessageRenderer(_with_subject(campaign, source), "invitation", REPO / "templates")
    error = _render_error(renderer, audience[0])
    assert str(error).startswith(f"{audience[0].email}: subject")
    assert ": refused by the template sandbox: " in str(error)
    assert problem in str(error)


def test_ordinary_jinja_still_works() -> None:
    env = make_environment(REPO / "templates")
    source = (
        "{% set s = namespace(n=0) %}{% for i in range(3) %}{% set s.n = s.n + i %}{% endfor %}"
        "{{ s.n }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 'ab' * 2 }} {{ '%05d' % 42 }}"
        " {{ '{:>4}'.format(1) }}"
        " {{ [3, 1, 2] | sort | join(',') }} {{ {'a': 1}.a }} {{ 'x' ~ 1 }} {{ 'Ala' | center(7) }}"
    )
    assert env.from_string(source).render() == "3 1 1024 abab 00042    1 1,2,3 1 x1   Ala  "


def test_the_templates_compiled_once_run_in_the_sandbox_too(campaign: Campaign) -> None:
    renderer = MessageRenderer(campaign, "we_missed_you", REPO / "templates")
    assert renderer.inlined is not None and renderer.inlined.text is not None
    for template in (renderer.inlined.template, renderer.inlined.text):
        assert isinstance(template.environment, TemplateSandbox)
        assert template.environment.render_seconds == renderer.render_seconds
