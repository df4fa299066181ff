"""CSS inlined once per template gives the very bytes premailer gives on each rendered message."""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from pathlib import Path

import cssutils
import markupsafe
import premailer
import pytest
from lxml import etree

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.render.environment import Links, MessageRenderer, make_environment
from listonosz.render.inline import inline_template
from listonosz.render.serialise import NeedsFullInlining, attribute_html, text_html
from listonosz.render.source import UnsupportedTemplate
from tests.conftest import REPO

KINDS = ["invitation", "reminder", "thank_you", "we_missed_you", "newsletter"]
LINKS = Links(
    unsubscribe="https://listonosz.localhost/u/eyJwIjoidW5zdWJzY3JpYmUifQ.c2lnbmF0dXJl",
    rsvp_yes="https://listonosz.localhost/r/eyJhIjoieWVzIn0.c2ln?x=1&y=2",
    rsvp_no="https://listonosz.localhost/r/eyJhIjoibm8ifQ.c2ln",
)
HOSTILE = [
    Contact("script@x.pl", "<script>alert(1)</script>", "", "{{ 7*7 }}", "Wójt", "", ("jst",)),
    Contact("quotes@x.pl", 'Anna "Ania"', "O'Neil & Syn", "A<B>C & D", "Prezes", "", ("media",)),
    Contact("amp@x.pl", "Jan", "Nowak", "Fundacja &amp; {% raw %} &{x}", "", "m", ("ngo",)),
]


@pytest.mark.parametrize("kind", KINDS)
def test_inlined_once_equals_premailer_on_every_sample_message(
    campaign: Campaign, audience: list[Contact], kind: str
) -> None:
    renderer = MessageRenderer(campaign, kind, campaign.templates_dir)
    assert renderer.inlined is not None, renderer.inline_note
    assert renderer.inline_note == "once per template"
    if kind in ("we_missed_you", "newsletter"):  # no text template: text planned from the HTML
        assert renderer.inlined.text_note == "compiled once per template"
    assert len(audience) == 86
    for contact in [*audience, *HOSTILE]:
        fast = renderer.render(contact, LINKS)
        slow = renderer.render_per_message(contact, LINKS)
        assert fast.html == slow.html, contact.email
        assert fast == slow


def test_premailer_runs_once_per_renderer_not_per_recipient(
    campaign: Campaign, audience: list[Contact], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    original = premailer.Premailer.transform

    def counting(self: premailer.Premailer, *args: object, **kwargs: object) -> str:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(premailer.Premailer, "transform", counting)
    renderer = MessageRenderer(campaign, "invitation", campaign.templates_dir)
    assert len(calls) == 1
    for contact in audience:
        renderer.render(contact, LINKS)
    assert len(calls) == 1


def test_inlined_html_keeps_only_media_rules_in_style(
    campaign: Campaign, audience: list[Contact]
) -> None:
    html = MessageRenderer(campaign, "invitation", campaign.templates_dir).render(
        audience[0], LINKS
    )
    tree = etree.fromstring(html.html, etree.HTMLParser())
    styles = [s.text for s in tree.iter("style")]
    assert len(styles) == 1 and styles[0].lstrip().startswith("@media")
    assert 'class="programme-time" style="' in html.html
    assert "{{" not in html.html and "{%" not in html.html and "\ue000" not in html.html


def _unusual_campaign(campaign: Campaign) -> Campaign:
    event = campaign.event.model_copy(
        update={
            "title": "Tom & \"Jerry\" <b>x</b> 'y' &{z} żółć\t€",
            "organiser": campaign.event.organiser.model_copy(
                update={"website": 'https://x.example/ścieżka?a=1&b="2" /', "phone": "<85>"}
            ),
        }
    )
    return campaign.model_copy(update={"event": event})


@pytest.mark.parametrize("kind", KINDS)
def test_unusual_characters_in_campaign_values_give_identical_bytes(
    campaign: Campaign, audience: list[Contact], kind: str
) -> None:
    unusual = _unusual_campaign(campaign)
    renderer = MessageRenderer(unusual, kind, campaign.templates_dir)
    for contact in [*audience[:5], *HOSTILE]:
        fast = renderer.render(contact, LINKS)
        assert fast == renderer.render_per_message(contact, LINKS)
    assert "Tom &amp; \"Jerry\" &lt;b&gt;x&lt;/b&gt; 'y'" in fast.html


def test_values_lxml_would_rewrite_are_inlined_per_message(campaign: Campaign) -> None:
    renderer = MessageRenderer(campaign, "invitation", campaign.templates_dir)
    odd = Contact("odd@x.pl", "Jan\r\nNowak", "\x0bKowalski", "Org\x01", "", "m")
    with pytest.raises(NeedsFullInlining):
        renderer.inlined.render(renderer.context(odd, LINKS))  # type: ignore[union-attr]
    assert renderer.render(odd, LINKS) == renderer.render_per_message(odd, LINKS)


def _serialised(fragment: str) -> str:
    tree = etree.fromstring(f"<html><body>{fragment}</body></html>", etree.HTMLParser())
    out = etree.tostring(tree, method="html", encoding="utf-8").decode()
    return out[len("<html><body>") : -len("</body></html>")]


def test_fast_serialisation_matches_lxml_on_random_values() -> None:
    alphabet = [
        *"aZ09 &<>\"'=?#%/:;@!*()~._-+,$[]{}|\\^`\t\nżółćĄ€\xa0😀\u2028\ufeff",
        "&amp;",
        "&#34;",
        "&{",
        "javascript:",
        "https://",
    ]
    rng = random.Random(2016)
    checked = 0
    for _ in range(4000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        escaped = markupsafe.escape(value)
        try:
            assert str(text_html(value)) == _serialised(f"<p>{escaped}</p>")[3:-4], value
            for tag, name in [("a", "href"), ("img", "alt"), ("img", "src"), ("a", "name")]:
                expected = _serialised(f'<{tag} {name}="{escaped}">')[len(tag) + 2 :]
                expected = expected[: expected.index(">")]
                assert str(attribute_html(tag, name, value)) == expected, (tag, name, value)
            checked += 1
        except NeedsFullInlining:
            continue
    assert checked > 3000


UNSUPPORTED = {
    "class": ('<p class="{{ kind }}">x</p>', "'class' attribute"),
    "in_tag": ('<p {% if kind %}title="a"{% endif %}>x</p>', "statement inside a tag"),
    "unbalanced": ("{% if kind %}<div>{% endif %}<p>x</p>{% if kind %}</div>{% endif %}", "closed"),
    "macro": ("{% macro b() %}<b>x</b>{% endmacro %}{{ b() }}", "macros"),
    "text_in_head": ("", "cannot stand here"),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_templates_the_inliner_cannot_prove_are_inlined_per_message(
    tmp_path: Path, campaign: Campaign, case: str
) -> None:
    body, reason = UNSUPPORTED[case]
    head = "{{ kind }}" if case == "text_in_head" else ""
    css = "p { color: #123456; }"
    (tmp_path / "odd.html.j2").write_text(
        f"<!DOCTYPE html>\n<html><head>{head}<style>{css}</style></head>"
        f"<body>{body}<p>{{{{ salutation }}}}</p></body></html>\n",
        encoding="utf-8",
    )
    with pytest.raises(UnsupportedTemplate, match=reason):
        inline_template(make_environment(tmp_path), "odd.html.j2")
    spec = campaign.messages["invitation"].model_copy(update={"template": "odd"})
    odd = campaign.model_copy(update={"messages": {"invitation": spec}})
    renderer = MessageRenderer(odd, "invitation", tmp_path)
    assert renderer.inlined is None and renderer.inline_note.startswith("per message:")
    contact = Contact("a@x.pl", "Anna", "Nowak")
    rendered = renderer.render(contact, LINKS)
    assert rendered == renderer.render_per_message(contact, LINKS)
    assert 'style="color:#123456"' in rendered.html


def test_css_selectors_that_depend_on_siblings_are_refused(tmp_path: Path) -> None:
    (tmp_path / "t.html.j2").write_text(
        "<html><head><style>li:first-child { color: red; }</style></head>"
        "<body><ul>{% for x in items %}<li>{{ x }}</li>{% endfor %}</ul></body></html>",
        encoding="utf-8",
    )
    with pytest.raises(UnsupportedTemplate, match="first-child"):
        inline_template(make_environment(tmp_path), "t.html.j2")


def test_errors_name_the_file_and_line_of_the_offending_tag(tmp_path: Path) -> None:
    (tmp_path / "base.html.j2").write_text(
        "<html><body>\n{% block content %}{% endblock %}\n</body></html>", encoding="utf-8"
    )
    (tmp_path / "child.html.j2").write_text(
        '{% extends "base.html.j2" %}\n{% block content %}\n<p>\n<a id="{{ x }}">y</a>'
        "</p>\n{% endblock %}",
        encoding="utf-8",
    )
    with pytest.raises(UnsupportedTemplate, match=r"child\.html\.j2:4: .*'id' attribute"):
        inline_template(make_environment(tmp_path), "child.html.j2")


def test_repository_templates_are_all_inlined_once() -> None:
    env = make_environment(REPO / "templates")
    for kind in KINDS:
        compiled = inline_template(env, f"{kind}.html.j2")
        assert "_lz_text" in compiled.source and "<!--" in compiled.source  # mso comment kept


def _single_template(tmp_path: Path, campaign: Campaign, body: str) -> MessageRenderer:
    (tmp_path / "one.html.j2").write_text(
        "<!DOCTYPE html>\n<html><head><style>p { color: #123456; }</style></head>"
        f"<body>{body}</body></html>\n",
        encoding="utf-8",
    )
    spec = campaign.messages["newsletter"].model_copy(update={"template": "one"})
    return MessageRenderer(
        campaign.model_copy(update={"messages": {"newsletter": spec}}), "newsletter", tmp_path
    )


def test_text_plan_handles_links_lists_and_breaks(tmp_path: Path, campaign: Campaign) -> None:
    renderer = _single_template(
        tmp_path,
        campaign,
        "<h2>Dla {{ contact.full_name }}</h2><p>{{ salutation }},<br>zobacz "
        '<a href="{{ links.unsubscribe }}?a=1&amp;b={{ contact.email }}">{{ contact.organisation }}'
        '</a> i <a href="https://x.example/ą b">https://x.example/ą b</a>.</p>'
        "<ul>{% for g in contact.group_labels %}<li>{{ g }}</li>{% endfor %}</ul>"
        "<ol><li>raz</li><li>dwa <b>{{ contact.position }}</b></li></ol>",
    )
    assert renderer.inlined is not None
    assert renderer.inlined.text_note == "compiled once per template"
    contact = Contact("a@x.pl", "Anna", "Nowak", "Gmina & <Syn>", "Wójt", "", ("jst", "ngo"))
    rendered = renderer.render(contact, LINKS)
    assert rendered == renderer.render_per_message(contact, LINKS)
    assert "DLA ANNA NOWAK" in rendered.text and "– organizacje pozarządowe" in rendered.text
    assert "Gmina & <Syn> [1]" in rendered.text and "2. dwa Wójt" in rendered.text
    assert f"[1] {LINKS.unsubscribe}?a=1&b=a@x.pl" in rendered.text


def test_text_plan_is_refused_for_numbered_lists_made_by_loops(
    tmp_path: Path, campaign: Campaign
) -> None:
    renderer = _single_template(
        tmp_path, campaign, "<ol>{% for g in contact.groups %}<li>{{ g }}</li>{% endfor %}</ol>"
    )
    assert renderer.inlined is not None and renderer.inlined.text is None
    assert renderer.inlined.text_note.startswith("made from each message: a numbered list")
    contact = Contact("a@x.pl", "Anna", "Nowak", groups=("jst", "ngo"))
    rendered = renderer.render(contact, LINKS)
    assert rendered.text.startswith("1. jst\n\n2. ngo\n")
    assert rendered == renderer.render_per_message(contact, LINKS)


def test_values_with_marker_characters_take_the_html_route(campaign: Campaign) -> None:
    renderer = MessageRenderer(campaign, "newsletter", campaign.templates_dir)
    odd = Contact("odd@x.pl", "Anna\ue010", "Nowak\ue014", "Org\ue017x\ue018", "", "f")
    assert renderer.render(odd, LINKS) == renderer.render_per_message(odd, LINKS)


def _declarations(element: etree._Element) -> dict[str, str]:
    """An element's style attribute as property → value, in order, with #abc written #aabbcc."""
    declarations = {}
    for declaration in (element.get("style") or "").split(";"):
        name, _, value = declaration.partition(":")
        value = " ".join(value.split()).lower()
        value = re.sub(r"#([0-9a-f])([0-9a-f])([0-9a-f])\b", r"#\1\1\2\2\3\3", value)
        if name.strip():
            declarations[name.strip().lower()] = value
    return declarations


#: Read off templates/base.html.j2 by hand: (message kind, element, declarations it must carry).
#: Several check the cascade: a class rule beats an element rule, a rule with a class and an
#: element beats one with a class, and an element's own style attribute beats them all.
INLINED = [
    ("invitation", "//body", {"margin": "0", "width": "100%", "background-color": "#eef1f5"}),
    (
        "invitation",
        "//table[@class='wrapper']",
        {"border-collapse": "collapse", "width": "100%", "background-color": "#eef1f5"},
    ),
    (
        "invitation",
        "//table[@class='container']",
        {"width": "600px", "background-color": "#ffffff"},
    ),
    (
        "invitation",
        "//td[@class='header']",
        {"padding": "24px 32px", "background-color": "#1f3a5f", "color": "#ffffff"},
    ),
    ("invitation", "//h2", {"font-size": "19px", "margin": "32px 0 12px 0", "color": "#1f3a5f"}),
    ("invitation", "//p[@class='small']", {"font-size": "14px", "color": "#4a4f57"}),
    (
        "invitation",
        "//td[@class='button']",
        {"background-color": "#1d6b3a", "border": "2px solid #1d6b3a", "padding": "12px 20px"},
    ),
    (
        "invitation",
        "//td[@class='button']/a",
        {"color": "#ffffff", "text-decoration": "none", "font-weight": "bold"},
    ),
    ("invitation", "//td[@class='button-alt']/a", {"color": "#1f3a5f", "text-decoration": "none"}),
    ("invitation", "//td[@class='footer']/p", {"font-size": "13px", "margin": "0 0 12px 0"}),
    (
        "invitation",
        "//td[@class='footer']//a",
        {"color": "#0a4f96", "text-decoration": "underline"},
    ),
    ("invitation", "//table[@class='programme']//th", {"background-color": "#1f3a5f"}),
    (
        "invitation",
        "//td[@class='programme-time']",
        {"width": "56px", "white-space": "nowrap", "padding": "10px 12px", "font-weight": "bold"},
    ),
    (
        "invitation",
        "//table[@class='details']//tr[1]/td[2]",
        {"padding": "6px 16px", "padding-top": "14px", "background-color": "#f2f4f7"},
    ),
    ("newsletter", "//h1", {"font-size": "24px", "line-height": "32px", "color": "#1f3a5f"}),
    ("newsletter", "//table[@class='note']//td", {"border-left": "4px solid #9a6a12"}),
]


@pytest.fixture(scope="module")
def sample_html(campaign: Campaign, audience: list[Contact]) -> Callable[[str, str], str]:
    """The HTML of one message of a kind, by either route, to someone in local government
    (who also gets the note for JST), rendered once per module."""
    official = next(c for c in audience if "jst" in c.groups)

    @functools.cache
    def render(kind: str, route: str) -> str:
        renderer = MessageRenderer(campaign, kind, campaign.templates_dir)
        return getattr(renderer, route)(official, LINKS).html

    return render


@pytest.mark.parametrize("route", ["render", "render_per_message"])
@pytest.mark.parametrize(("kind", "path", "expected"), INLINED)
def test_the_stylesheet_ends_up_on_the_elements_it_selects(
    sample_html: Callable[[str, str], str],
    route: str,
    kind: str,
    path: str,
    expected: dict[str, str],
) -> None:
    elements = etree.fromstring(sample_html(kind, route), etree.HTMLParser()).xpath(path)
    assert elements, path
    for element in elements:
        declarations = _declarations(element)
        assert {name: declarations.get(name) for name in expected} == expected, path
        if "padding-top" in declarations:  # written after the shorthand, or the shorthand wins
            names = list(declarations)
            assert names.index("padding-top") > names.index("padding")


@pytest.mark.parametrize("route", ["render", "render_per_message"])
def test_media_rules_stay_in_a_style_element_with_their_importance(
    sample_html: Callable[[str, str], str], route: str
) -> None:
    tree = etree.fromstring(sample_html("invitation", route), etree.HTMLParser())
    (style,) = tree.iter("style")
    sheet = cssutils.parseString(style.text, validate=False)
    rules = [rule for rule in sheet.cssRules if rule.type != rule.COMMENT]
    assert [rule.media.mediaText for rule in rules if rule.type == rule.MEDIA_RULE] == [
        "(max-width: 599px)",
        "(max-width: 480px)",
    ]
    assert len(rules) == 2  # nothing but the two @media blocks is left in <style>
    container = next(r for r in rules[0].cssRules if r.selectorText == ".container")
    assert container.style.getPropertyValue("width") == "100%"
    assert container.style.getPropertyPriority("width") == "important"
    # Their selectors still find their elements: the classes stay on the elements.
    assert tree.xpath("//table[@class='container']") and tree.xpath("//td[@class='button-alt']")
