"""The preflight renders every recipient first and lists every failure: who, where, what."""

from __future__ import annotations

from pathlib import Path

import pytest

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.render.environment import Links, MessageRenderer, RenderError
from listonosz.render.preflight import PreflightError, preflight


def _insert_after(path: Path, anchor: str, line: str) -> int:
    """Insert ``line`` after the first line containing ``anchor``; return its line number."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, text in enumerate(lines) if anchor in text)
    lines.insert(index + 1, line + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return index + 2


@pytest.mark.parametrize(
    "kind", ["invitation", "reminder", "thank_you", "we_missed_you", "newsletter"]
)
def test_every_kind_passes_for_the_whole_sample_audience(
    campaign: Campaign, audience: list[Contact], kind: str
) -> None:
    report = preflight(campaign, kind, audience)
    assert report.recipients == 86
    assert report.inlining == "once per template"


def test_a_missing_variable_is_reported_with_recipient_template_and_line(
    campaign: Campaign, audience: list[Contact], templates: Path
) -> None:
    line = _insert_after(
        templates / "invitation.html.j2",
        "<p>{{ salutation }},</p>",
        '{% if contact is in_group("media") %}<p>{{ contact.nickname }}</p>{% endif %}',
    )
    journalists = sorted(c.email for c in audience if "media" in c.groups)
    with pytest.raises(PreflightError) as caught:
        preflight(campaign, "invitation", audience, templates)
    error = caught.value
    assert sorted(f.recipient for f in error.failures) == journalists
    assert len(journalists) == 9
    for failure in error.failures:
        assert (failure.template, failure.line) == ("invitation.html.j2", line)
        assert failure.problem == "Contact has no attribute 'nickname'"
    text = str(error)
    assert "cannot be rendered for 9 of 86 recipients; nothing is sent" in text
    assert f"invitation.html.j2:{line}: Contact has no attribute 'nickname'" in text
    assert all(email in text for email in journalists)


def test_failures_in_the_text_part_and_the_subject_are_located_too(
    campaign: Campaign, audience: list[Contact], templates: Path
) -> None:
    line = _insert_after(templates / "reminder.txt.j2", "{{ salutation }},", "{{ deadline_hour }}")
    spec = campaign.messages["reminder"].model_copy(update={"subject": "Już {{ event.day }}"})
    broken = campaign.model_copy(update={"messages": {**campaign.messages, "reminder": spec}})
    with pytest.raises(PreflightError) as caught:
        preflight(broken, "reminder", audience[:3], templates)
    places = {(f.template, f.line, f.problem) for f in caught.value.failures}
    assert places == {("subject", 1, "Event has no attribute 'day'")}
    with pytest.raises(PreflightError) as caught:
        preflight(campaign, "reminder", audience[:3], templates)
    assert {(f.template, f.line) for f in caught.value.failures} == {("reminder.txt.j2", line)}
    assert {f.problem for f in caught.value.failures} == {"'deadline_hour' is undefined"}


def test_a_syntax_error_stops_every_recipient_at_its_line(
    campaign: Campaign, audience: list[Contact], templates: Path
) -> None:
    (templates / "groups" / "invitation.html.j2").write_text(
        "{% if contact is in_group('jst') %}\n<p>{{ contact.email }</p>\n{% endif %}\n",
        encoding="utf-8",
    )
    with pytest.raises(PreflightError) as caught:
        preflight(campaign, "invitation", audience, templates)
    [failure] = caught.value.failures
    assert failure.recipient == "" and failure.where == "groups/invitation.html.j2:2"
    assert failure.problem.startswith("syntax error:")
    assert "every recipient" in str(caught.value)


def test_the_renderer_itself_names_the_line_when_sending(
    campaign: Campaign, templates: Path
) -> None:
    line = _insert_after(templates / "base.html.j2", '<td class="content">', "{{ links.survey }}")
    renderer = MessageRenderer(campaign, "newsletter", templates)
    with pytest.raises(RenderError) as caught:
        renderer.render(Contact("a@x.pl", "Anna", "Nowak"), Links("https://u"))
    assert str(caught.value) == f"a@x.pl: base.html.j2:{line}: Links has no attribute 'survey'"
