"""Every message kind renders for every sample recipient, in Polish, and holds its layout."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from lxml import etree

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.render.environment import Links, MessageRenderer
from listonosz.render.salutations import salutation
from listonosz.render.text import REFERENCES_HEADING

KINDS = ["invitation", "reminder", "thank_you", "we_missed_you", "newsletter"]
WITH_TEXT_TEMPLATE = {"invitation", "reminder", "thank_you"}
NOW = dt.datetime(2016, 8, 1, 9, 0, tzinfo=dt.UTC)
LINKS = Links(
    unsubscribe="https://listonosz.localhost/u/TOKEN-U",
    rsvp_yes="https://listonosz.localhost/r/TOKEN-YES",
    rsvp_no="https://listonosz.localhost/r/TOKEN-NO",
)


@pytest.fixture(scope="module")
def renderers(campaign: Campaign) -> dict[str, MessageRenderer]:
    return {
        kind: MessageRenderer(campaign, kind, campaign.templates_dir, now=NOW) for kind in KINDS
    }


def test_the_campaign_declares_every_kind(campaign: Campaign) -> None:
    assert set(KINDS) <= set(campaign.messages)


@pytest.mark.parametrize("kind", KINDS)
def test_every_sample_recipient_renders(
    renderers: dict[str, MessageRenderer], audience: list[Contact], kind: str
) -> None:
    renderer = renderers[kind]
    assert len(audience) == 86
    for contact in audience:
        message = renderer.render(contact, LINKS)
        greeting = f"{salutation(contact)},"
        assert message.subject and "\n" not in message.subject
        first = etree.fromstring(message.html, etree.HTMLParser()).find(
            ".//td[@class='content']//p"
        )
        assert first is not None and first.text == greeting
        assert f"\n{greeting}\n" in f"\n{message.text}"
        assert contact.email in message.html and contact.email in message.text
        assert LINKS.unsubscribe in message.html and LINKS.unsubscribe in message.text
        for leftover in ("{{", "{%", "}}", "%}", "Undefined", "None"):
            assert leftover not in message.html + message.text + message.subject, leftover
        assert message.text.endswith("\n") and "\n\n\n" not in message.text


@pytest.mark.parametrize("kind", KINDS)
def test_layout_is_table_based_600px_polish_and_accessible(
    renderers: dict[str, MessageRenderer], audience: list[Contact], kind: str
) -> None:
    html = renderers[kind].render(audience[0], LINKS).html
    tree = etree.fromstring(html, etree.HTMLParser())
    assert html.startswith("<!DOCTYPE html>")
    assert tree.get("lang") == "pl"
    container = tree.find(".//table[@class='container']")
    assert container is not None and container.get("width") == "600"
    assert "width:600px" in container.get("style", "")
    for table in tree.iter("table"):
        if "programme" not in table.get("class", ""):
            assert table.get("role") == "presentation", etree.tostring(table)[:80]
    assert all(img.get("alt") is not None for img in tree.iter("img"))
    assert tree.find(".//meta[@name='viewport']") is not None
    assert "@media (max-width: 599px)" in html


def _luminance(colour: str) -> float:
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    channels = [int(colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("kind", KINDS)
def test_text_colours_have_readable_contrast(
    renderers: dict[str, MessageRenderer], audience: list[Contact], kind: str
) -> None:
    """WCAG AA (4.5:1) for every element's text colour on the nearest background colour."""
    tree = etree.fromstring(renderers[kind].render(audience[0], LINKS).html, etree.HTMLParser())
    pairs = 0
    for element in tree.iter("*"):
        colour = re.search(r"(?:^|;)\s*color:\s*(#[0-9a-fA-F]{3,6})", element.get("style", ""))
        if not colour:
            continue
        background = None
        for node in (element, *element.iterancestors("*")):
            found = re.search(r"background-color:\s*(#[0-9a-fA-F]{3,6})", node.get("style", ""))
            if found:
                background = found.group(1)
                break
        assert background is not None, element.tag
        ratio = _contrast(colour.group(1), background)
        assert ratio >= 4.5, (element.tag, element.get("class"), colour.group(1), background)
        pairs += 1
    assert pairs > 20


def test_text_part_from_its_template_or_from_the_html(
    renderers: dict[str, MessageRenderer], audience: list[Contact]
) -> None:
    contact = audience[0]
    for kind, renderer in renderers.items():
        text = renderer.render(contact, LINKS).text
        if kind in WITH_TEXT_TEMPLATE:
            assert REFERENCES_HEADING not in text
        else:  # made from the HTML: links kept as numbered references
            assert REFERENCES_HEADING in text
            number = re.search(r"Wypisz się z listy \[(\d+)\]", text).group(1)  # type: ignore[union-attr]
            assert f"[{number}] {LINKS.unsubscribe}" in text
            assert all(len(line) <= 72 or "://" in line for line in text.splitlines())


def _by_group(audience: list[Contact], group: str, inside: bool) -> Contact:
    return next(c for c in audience if (group in c.groups) == inside)


def test_per_group_blocks_reach_only_their_group(
    renderers: dict[str, MessageRenderer], audience: list[Contact]
) -> None:
    invitation = renderers["invitation"]
    official = _by_group(audience, "jst", True)
    other = next(c for c in audience if not {"jst", "media", "koscioly"} & set(c.groups))
    message = invitation.render(official, LINKS)
    assert "Dla samorządów:" in message.html and "DLA SAMORZĄDÓW:" in message.text
    plain = invitation.render(other, LINKS)
    assert "Dla samorządów" not in plain.html and "DLA SAMORZĄDÓW" not in plain.text
    journalist = _by_group(audience, "media", True)
    assert "Dla mediów:" in invitation.render(journalist, LINKS).html
    assert "Dla samorządów:" in renderers["newsletter"].render(official, LINKS).html


def test_invitation_carries_rsvp_links_calendar_and_counted_talks(
    renderers: dict[str, MessageRenderer], audience: list[Contact]
) -> None:
    message = renderers["invitation"].render(audience[0], LINKS)
    assert f'href="{LINKS.rsvp_yes}"' in message.html and f'href="{LINKS.rsvp_no}"' in message.html
    assert f"Tak, wezmę udział: {LINKS.rsvp_yes}" in message.text
    assert "W programie 4 wystąpienia ekspertów" in message.html
    assert "W programie 4 wystąpienia ekspertów" in message.text
    [calendar] = message.attachments
    assert calendar.filename == "wydarzenie.ics"
    assert calendar.content_type == 'text/calendar; charset="utf-8"; method=PUBLISH'
    assert calendar.data.startswith(b"BEGIN:VCALENDAR\r\n")


def test_without_rsvp_links_people_are_asked_to_reply(
    renderers: dict[str, MessageRenderer], audience: list[Contact]
) -> None:
    message = renderers["invitation"].render(audience[0], Links(unsubscribe=LINKS.unsubscribe))
    assert "/r/" not in message.html and "Tak, wezmę udział" not in message.html
    assert "w odpowiedzi na tę wiadomość lub telefonicznie pod numerem 85 740 00 00" in message.text


def test_only_invitation_and_reminder_carry_the_calendar(
    renderers: dict[str, MessageRenderer],
) -> None:
    carrying = {kind for kind, renderer in renderers.items() if renderer.attachments}
    assert carrying == {"invitation", "reminder"}
    assert renderers["invitation"].attachments == renderers["reminder"].attachments


def test_thank_you_lists_materials_when_the_campaign_has_them(campaign: Campaign) -> None:
    class Material:
        def __init__(self, title: str, url: str) -> None:
            self.title, self.url = title, url

    class SpecWithMaterials:
        template = "thank_you"
        subject = campaign.messages["thank_you"].subject
        materials = (
            Material("Prezentacja: Usługi społeczne (PDF)", "https://x.example/uslugi.pdf"),
            Material("Fundusz pożyczkowy (PDF)", "https://x.example/fundusz.pdf?v=2&l=pl"),
        )

    messages = {**campaign.messages, "thank_you": SpecWithMaterials()}
    with_materials = campaign.model_construct(**{**dict(campaign), "messages": messages})
    renderer = MessageRenderer(with_materials, "thank_you", campaign.templates_dir)
    contact = Contact("a@x.pl", "Anna", "Nowak", groups=("jst",))
    message = renderer.render(contact, LINKS)
    assert "przesyłamy 2 materiały z wystąpień" in message.html
    assert 'href="https://x.example/fundusz.pdf?v=2&amp;l=pl"' in message.html
    assert "– Fundusz pożyczkowy (PDF)\n  https://x.example/fundusz.pdf?v=2&l=pl" in message.text
    assert message == renderer.render_per_message(contact, LINKS)
    no_materials = campaign.messages["thank_you"].model_copy(update={"materials": []})
    bare = campaign.model_copy(
        update={"messages": {**campaign.messages, "thank_you": no_materials}}
    )
    without = MessageRenderer(bare, "thank_you", campaign.templates_dir).render(contact, LINKS)
    assert "Prezentacje prelegentów opublikujemy w ciągu kilku dni" in without.html


HOSTILE_NAME = Contact("x@example.pl", "<script>alert(1)</script>", "", "Gmina", "", "m", ("jst",))
HOSTILE_ORG = Contact("y@example.pl", "Anna", "Nowak", "{{ 7*7 }}", "", "f", ("ngo",))


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_names_render_literally_and_escaped(campaign: Campaign, kind: str) -> None:
    spec = campaign.messages[kind].model_copy(
        update={"subject": "{{ contact.full_name }} / {{ contact.organisation }}: wiadomość"}
    )
    personal = campaign.model_copy(update={"messages": {**campaign.messages, kind: spec}})
    renderer = MessageRenderer(personal, kind, campaign.templates_dir)

    script = renderer.render(HOSTILE_NAME, LINKS)
    assert script.subject == "<script>alert(1)</script> / Gmina: wiadomość"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in script.html
    assert "<script" not in script.html
    assert "Wiadomość do: <script>alert(1)</script>, Gmina" in script.text

    template = renderer.render(HOSTILE_ORG, LINKS)
    assert template.subject == "Anna Nowak / {{ 7*7 }}: wiadomość"
    assert "Anna Nowak, {{ 7*7 }} (y@example.pl)" in template.html
    assert "Anna Nowak, {{ 7*7 }}" in template.text
    assert "49" not in template.subject + template.text
    assert renderer.render_per_message(HOSTILE_NAME, LINKS) == script
    assert renderer.render_per_message(HOSTILE_ORG, LINKS) == template
