"""Values written exactly as premailer (lxml's HTML serialiser) writes them after a round trip.

premailer parses the rendered message and serialises it again, so a value escaped by Jinja
(``&#34;``) comes out as lxml writes it (``"`` in text, ``'…"…'`` quoting or ``%22`` in an
``href``). A template inlined once must produce those same bytes. Common values take a fast path
written out here; unusual attribute values ask lxml itself (cached); values lxml would rewrite
in ways that depend on their neighbours (carriage returns, control characters, HTML markup) raise
:class:`NeedsFullInlining`, and that one message is inlined the slow way.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree
from markupsafe import Markup


class NeedsFullInlining(Exception):
    """This message holds a value only a full premailer pass renders faithfully."""


#: Characters lxml writes back unchanged in text (apart from & < >). Anything else is unusual.
_UNUSUAL = re.compile(r"[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufdcf\ufdf0-\ufffd\U00010000-\U0010fffd]")
#: URL characters lxml leaves alone in href/src/action (& is then written as &amp;).
_PLAIN_URL = re.compile(r"[A-Za-z0-9\-._~!*'()@/:=?;#%&,+$]*")
#: Attributes whose values libxml2 URI-escapes; ``name`` only on ``<a>``.
_URI_ATTRIBUTES = frozenset({"href", "src", "action"})


def plain_value(value: object) -> str:
    """The text a value stands for, or :class:`NeedsFullInlining` when that is not clear-cut."""
    if hasattr(value, "__html__"):
        markup = str(Markup(value))
        if "<" in markup or "&" in markup:
            raise NeedsFullInlining("a value carries HTML markup")
        value = markup
    text = str(value)
    if _UNUSUAL.search(text):
        raise NeedsFullInlining("a value carries control characters")
    return text


def text_html(value: object) -> Markup:
    """A value in element content, as lxml serialises it."""
    return _text_html(value if type(value) is str else plain_value(value))


@lru_cache(maxsize=16_384)  # the campaign's own values repeat in every message
def _text_html(text: str) -> Markup:
    plain_value(text)  # raises NeedsFullInlining for control characters
    return Markup(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def attribute_html(tag: str, name: str, value: str) -> Markup:
    """``name="value"`` as lxml serialises that attribute of ``tag`` (quotes, escapes, URLs)."""
    if "&{" in value:  # libxml2 reads "&{…}" in attributes as a script entity
        raise NeedsFullInlining("an attribute value holds '&{'")
    uri = name in _URI_ATTRIBUTES or (name == "name" and tag == "a")
    if uri and _PLAIN_URL.fullmatch(value) and not value.startswith("javascript:"):
        return Markup(f'{name}="{value.replace("&", "&amp;")}"')
    if not uri and '"' not in value:
        escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return Markup(f'{name}="{escaped}"')
    return Markup(_lxml_attribute(tag, name, value))


@lru_cache(maxsize=4096)
def _lxml_attribute(tag: str, name: str, value: str) -> str:
    element = etree.Element(tag)
    element.set(name, value)
    html = etree.tostring(element, method="html", encoding="unicode")
    return html[len(tag) + 2 : html.index(">")]


def parsed_attribute(tag: str, name: str, value: str) -> str:
    """The value lxml reads back from ``name`` as :func:`attribute_html` writes it.

    Unchanged, except where lxml's writer escaped it (a URL with spaces or non-ASCII letters).
    """
    uri = name in _URI_ATTRIBUTES or (name == "name" and tag == "a")
    if not uri or (_PLAIN_URL.fullmatch(value) and not value.startswith("javascript:")):
        return value
    return _reparse(name, str(attribute_html(tag, name, value)))


@lru_cache(maxsize=4096)
def _reparse(name: str, written: str) -> str:
    document = f"<html><body><a {written}></a></body></html>"
    element = etree.fromstring(document, etree.HTMLParser()).find(".//a")
    assert element is not None  # the <a> parsed just now
    return element.get(name, "")
