"""Folding what every recipient shares into the compiled templates gives the same messages."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Template
from jinja2.exceptions import SecurityError, UndefinedError
from markupsafe import Markup

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.render.environment import Links, MessageRenderer, make_environment
from listonosz.render.folding import plain
from listonosz.render.salutations import salutation
from listonosz.render.sandbox import TemplateSandbox

KINDS = ["invitation", "reminder", "thank_you", "we_missed_you", "newsletter"]
LINKS = Links(
    unsubscribe="https://listonosz.localhost/u/TOKEN-U",
    rsvp_yes="https://listonosz.localhost/r/TOKEN-YES",
    rsvp_no="https://listonosz.localhost/r/TOKEN-NO",
)


def _shared(campaign: Campaign, kind: str) -> dict[str, Any]:
    return MessageRenderer(campaign, kind, campaign.templates_dir, inline_once=False)._shared


def _context(shared: dict[str, Any], contact: Contact) -> dict[str, Any]:
    return {**shared, "contact": contact, "salutation": salutation(contact), "links": LINKS}


def _unusual(campaign: Campaign) -> Campaign:
    """Values that escaping, wrapping or a careless fold would change."""
    event = campaign.event.model_copy(
        update={
            "title": "Tom & \"Jerry\" <b>x</b> 'y' {{ 7*7 }} &{z} żółć\t€",
            "venue": campaign.event.venue.model_copy(update={"city": "Biała <Podlaska> & okolice"}),
        }
    )
    return campaign.model_copy(update={"event": event})


@pytest.mark.parametrize("unusual", [False, True], ids=["campaign", "unusual values"])
@pytest.mark.parametrize("kind", KINDS)
def test_folded_templates_render_what_the_plain_ones_do(
    campaign: Campaign, audience: list[Contact], kind: str, unusual: bool
) -> None:
    """Every template of every kind, compiled both ways, for every sample recipient."""
    if unusual:
        campaign = _unusual(campaign)
    spec = campaign.message(kind)
    shared = _shared(campaign, kind)
    plain_env = make_environment(campaign.templates_dir)
    folding_env = make_environment(campaign.templates_dir, constants=shared, sources=[spec.subject])
    names = [f"{spec.template}.html.j2"]
    if (campaign.templates_dir / f"{spec.template}.txt.j2").is_file():
        names.append(f"{spec.template}.txt.j2")
    pairs: list[tuple[Template, Template]] = [
        (plain_env.from_string(spec.subject), folding_env.from_string(spec.subject))
    ] + [(plain_env.get_template(n), folding_env.get_template(n)) for n in names]
    for contact in audience:
        context = _context(shared, contact)
        for reference, folded in pairs:
            assert folded.render(context) == reference.render(context), contact.email


def test_the_renderer_folds_most_reads_away(campaign: Campaign) -> None:
    """The fast path really is folded: the venue, the organiser and the date are read once."""
    renderer = MessageRenderer(campaign, "invitation", campaign.templates_dir)
    source = (campaign.templates_dir / "invitation.txt.j2").read_text(encoding="utf-8")
    plain_code = renderer.env.compile(source, raw=True)
    folded_code = renderer.folding_env.compile(source, raw=True)
    assert "'venue'" in plain_code and "'organiser'" in plain_code
    assert "'venue'" not in folded_code and "'organiser'" not in folded_code
    assert "'programme'" in folded_code  # a loop over models is read per message
    assert folded_code.count("environment.getattr(") < plain_code.count("environment.getattr(") / 2
    assert campaign.event.venue.city in folded_code


ALL = frozenset({"event", "sender", "kind", "materials"})
# Each case: (templates by name, the template to render, the names left to fold). A template of
# the folder binds a shared name, escapes, compares: folded or not, the result is the same.
CASES: dict[str, tuple[dict[str, str], str, frozenset[str]]] = {
    "a child sets a shared name its parent reads": (
        {
            "base.html": "<p>{{ event.title }}</p>{% block b %}{{ event.title }}{% endblock %}",
            "child.html": "{% extends 'base.html' %}{% set event = {'title': 'child'} %}"
            "{% block b %}[{{ event.title }}]{% endblock %}",
        },
        "child.html",
        ALL - {"event"},
    ),
    "a set before an include": (
        {
            "outer.html": "{% set kind = 'changed' %}{% include 'inner.html' %}",
            "inner.html": "{{ kind }} {{ event.venue.city }}",
        },
        "outer.html",
        ALL - {"kind"},
    ),
    "a loop variable, a macro argument and an import named like shared values": (
        {
            "page.html": "{% for sender in ['a', 'b'] %}{{ sender }}{% endfor %}"
            "{% macro m(materials) %}{{ materials }}{% endmacro %}{{ m('x') }}"
            "{% import 'macros.html' as venue %}{{ event.venue.city }}",
            "macros.html": "{% macro x() %}x{% endmacro %}",
        },
        "page.html",
        frozenset({"event", "kind"}),
    ),
    "escaping, joining and concatenating": (
        {
            "page.html": "{{ event.title }}|{{ event.title | e ~ '&' }}"
            "|{{ event.title | list | join('<') ~ '>' }}|{{ event.title ~ '<' ~ kind }}"
            "|{{ event.title | upper | replace('&', '+') }}|{{ event.title | safe }}"
            "|{{ [event.title | e, '&'] | join }}|{{ event.title | e | replace('T', '<') }}",
        },
        "page.html",
        ALL,
    ),
    "an autoescape block (such a template is not folded at all)": (
        {
            "page.html": "{{ event.title }}{% autoescape false %}"
            "{{ event.title }}{% endautoescape %}"
        },
        "page.html",
        ALL,
    ),
    "plain text": (
        {"page.txt": "{{ event.title }} {{ event.title | wordwrap(10) }} {{ kind | title }}"},
        "page.txt",
        ALL,
    ),
    "numbers, tests, comparisons and branches": (
        {
            "page.html": "{{ event.sequence + 1 }} {{ event.sequence * 3 }}"
            " {{ materials | length }} {{ event.registration.deadline is none }}"
            " {{ kind == 'invitation' }}"
            " {{ 'yes' if event.programme else 'no' }} {{ event.programme | length > 3 }}"
            " {% if event.registration.deadline is not none %}{{ event.registration.deadline"
            " | date_pl }}{% endif %} {{ event.starts_at | date_pl }} {{ event.starts_at }}"
            " {{ event.venue['city'] }} {{ event['venue'].city }} {{ sender.name | length }}"
            " {{ (event.programme | first).title }} {{ event.title[:5] }} {{ event.title.upper() }}"
            " {% for item in event.programme %}{{ loop.index }}{{ item.time }}{% endfor %}",
        },
        "page.html",
        ALL,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_folding_keeps_the_meaning_of_templates(
    campaign: Campaign, audience: list[Contact], tmp_path: Path, case: str
) -> None:
    templates, name, folded_names = CASES[case]
    for file, text in templates.items():
        (tmp_path / file).write_text(text, encoding="utf-8")
    campaign = _unusual(campaign)
    shared = _shared(campaign, "invitation")
    context = _context(shared, audience[0])
    reference = make_environment(tmp_path).get_template(name).render(context)
    folding_env = make_environment(tmp_path, constants=shared)
    assert folding_env.folded_names == folded_names
    assert folding_env.get_template(name).render(context) == reference


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("{{ event.__class__ }}", SecurityError),
        ("{{ event.model_dump() }}", SecurityError),
        ("{{ event.parse_file('/etc/passwd') }}", SecurityError),
        ("{{ event.nothing_here }}", UndefinedError),
        ("{{ (event.title * 10**7) | length }}", SecurityError),
        ("{{ event.title | center(10**7) }}", SecurityError),
    ],
)
def test_what_the_sandbox_refuses_is_refused_folded_too(
    campaign: Campaign, tmp_path: Path, source: str, error: type[Exception]
) -> None:
    shared = _shared(campaign, "invitation")
    messages = []
    for env in (
        make_environment(tmp_path),
        make_environment(tmp_path, constants=shared, sources=[source]),
    ):
        template = env.from_string(source)  # nothing is run or read at compile time
        with pytest.raises(error) as raised:
            template.render(shared)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]


def test_a_template_nobody_declared_may_not_rebind_what_is_folded(
    campaign: Campaign, tmp_path: Path
) -> None:
    env = make_environment(tmp_path, constants=_shared(campaign, "invitation"))
    assert env.from_string("{{ event.title }}").render(event=campaign.event) == campaign.event.title
    with pytest.raises(RuntimeError, match=r"binds \['event'\]"):
        env.from_string("{% set event = 1 %}{% include 'x.html' %}")
    declared = make_environment(
        tmp_path, constants=_shared(campaign, "invitation"), sources=["{% set event = 1 %}"]
    )
    assert declared.from_string("{% set event = 1 %}{{ event }}").render() == "1"


def test_only_plain_data_is_folded() -> None:
    assert all(map(plain, ["x", 1, 2.5, True, None, ("a", (1, None))]))
    assert not any(map(plain, [Markup("x"), math.nan, math.inf, ["x"], {"a": 1}, object()]))
    assert isinstance(make_environment(Path(".")), TemplateSandbox)


def test_a_concatenation_keeps_markup_as_it_does_at_run_time(tmp_path: Path) -> None:
    """Jinja folds ``~`` into a plain string, so Markup on one side got escaped twice."""
    source = "{{ 'a&b' | e ~ '&' }}|{% set x = 'a&b' %}{{ x | e ~ '&' }}"
    (tmp_path / "page.html").write_text(source, encoding="utf-8")
    rendered = make_environment(tmp_path).get_template("page.html").render()
    assert rendered == "a&amp;b&amp;|a&amp;b&amp;"
