"""CSS inlining with premailer: mail clients ignore most of a ``<style>`` block.

:func:`inline_css` is the reference: one premailer pass over one rendered message.
:func:`inline_template` gets the same bytes for every recipient from one premailer pass over
the *template*: each Jinja tag is swapped for a placeholder premailer cannot disturb (an HTML
comment for a statement, a plain word for an expression in text, a whole attribute value for
an expression in an attribute), the document is inlined once, and the placeholders are swapped
back for Jinja tags that write values exactly as premailer would have written them
(:mod:`listonosz.render.serialise`).

It holds when the template's Jinja does not change which CSS rules match which elements, so
:func:`inline_template` refuses (:class:`UnsupportedTemplate`) Jinja inside ``class``, ``id``,
``style`` or tags, tags opened in one branch of an ``if`` and closed in another, and CSS
selectors that depend on siblings or attributes. A refused template is inlined per message.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

import cssutils
from jinja2 import Environment, Template
from lxml import etree
from markupsafe import Markup
from premailer import Premailer

from listonosz.render.scan import ATTRIBUTE, COMMENT, RCDATA, TEXT, HtmlScanner
from listonosz.render.serialise import NeedsFullInlining, attribute_html, plain_value, text_html
from listonosz.render.source import Chunk, Tag, Text, UnsupportedTemplate, flatten
from listonosz.render.textcompile import compile_text, finish_text, href_reader, plain_text


def inline_css(html: str) -> str:
    """Move the rules of ``<style>`` blocks into ``style`` attributes; keep @media rules."""
    inlined: str = Premailer(
        html,
        remove_classes=False,
        keep_style_tags=False,
        strip_important=False,
        allow_network=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
    ).transform(pretty_print=False)
    return inlined


class _Delimiters(TypedDict):
    """Jinja's delimiter settings, by name (what ``Environment.overlay`` takes)."""

    block_start_string: str
    block_end_string: str
    variable_start_string: str
    variable_end_string: str
    comment_start_string: str
    comment_end_string: str


# Delimiters of the compiled template: private-use characters no template text contains.
_OPEN, _CLOSE = "\ue000", "\ue001"
_DELIMITERS = _Delimiters(
    block_start_string=f"{_OPEN}%",
    block_end_string=f"%{_CLOSE}",
    variable_start_string=f"{_OPEN}{{",
    variable_end_string=f"}}{_CLOSE}",
    comment_start_string=f"{_OPEN}#",
    comment_end_string=f"#{_CLOSE}",
)
_OPENING = frozenset({"if", "for", "with"})
_MIDDLE = frozenset({"elif", "else"})
_CLOSING = frozenset({"endif", "endfor", "endwith"})
_PLAIN_STATEMENTS = frozenset({"set", "break", "continue", "do"})
_STYLING_ATTRIBUTES = frozenset({"class", "id", "style"})
_NO_TEXT_PARENTS = frozenset({"", "html", "head"})
_STRUCTURAL_SELECTOR = re.compile(
    r"[+~\[]|:(first|last|nth|only)-|:empty|:not\(|:has\(|:root", re.IGNORECASE
)


#: An attribute value being read: its tag, its name, its raw pieces, its Jinja expressions.
_Pending = tuple[str, str, list[str], list[str]]


@dataclass(frozen=True, slots=True)
class _Attribute:
    """An attribute whose value holds Jinja: its element, name and the literal text around."""

    tag: str
    name: str
    static: tuple[str, ...]  # len(expressions) + 1 literal pieces, already unescaped
    expressions: tuple[str, ...]  # the Jinja source of each expression


@dataclass(frozen=True, slots=True)
class InlinedTemplate:
    """A template whose CSS was inlined once; render it like any Jinja template.

    ``text`` (when asked for and possible) writes the plain-text part compiled from the same
    HTML (:mod:`listonosz.render.textcompile`); ``text_note`` says why there is none.
    """

    template: Template
    source: str  # the compiled source, for the curious and for tests
    text: Template | None = None
    text_note: str = ""

    def render(self, context: dict[str, object]) -> str:
        return self.template.render(context)

    def render_text(self, context: dict[str, object]) -> str:
        """The text part; :class:`NeedsFullInlining` when a value needs the HTML route."""
        if self.text is None:
            raise NeedsFullInlining(self.text_note or "no compiled text")
        return finish_text(self.text.render(context))


def inline_template(env: Environment, name: str, text: bool = False) -> InlinedTemplate:
    """Compile ``name`` (and what it extends) with its CSS inlined once for every recipient;
    with ``text``, also compile its plain-text part once."""
    chunks = flatten(env, name)
    builder = _Builder(f"lz{secrets.token_hex(4)}")
    html = builder.build(chunks)
    _check_css(html)
    inlined = inline_css(html)
    source = builder.restore(inlined)
    compiled_env = env.overlay(autoescape=True, **_DELIMITERS)
    # Filters, not globals: Jinja calls a filter directly, a global through its context.
    compiled_env.filters = {
        **env.filters,
        "_lz_text": text_html,
        "_lz_attr": _attribute_writer(builder.attributes),
    }
    template = compiled_env.from_string(source)
    if not text:
        return InlinedTemplate(template, source)
    try:
        text_template = _compile_text(env, builder, inlined)
    except UnsupportedTemplate as exc:
        return InlinedTemplate(template, source, text_note=f"made from each message: {exc}")
    return InlinedTemplate(template, source, text_template, "compiled once per template")


def _compile_text(env: Environment, builder: _Builder, inlined: str) -> Template:
    attributes = builder.attributes
    source = compile_text(
        inlined,
        builder.prefix,
        builder.sources,
        [a.expressions for a in attributes],
        (_OPEN, _CLOSE),
    )
    text_env = env.overlay(autoescape=False, **_DELIMITERS)
    text_env.filters = {
        **env.filters,
        "_lz_plain": plain_text,
        "_lz_href": href_reader(
            [(a.tag, a.name) for a in attributes], [a.static for a in attributes]
        ),
    }
    return text_env.from_string(source)


def _attribute_writer(attributes: list[_Attribute]) -> Callable[..., Markup]:
    def write(index: int, *values: object) -> Markup:
        spec = attributes[index]
        pieces = [spec.static[0]]
        for value, after in zip(values, spec.static[1:], strict=True):
            pieces += [plain_value(value), after]
        return attribute_html(spec.tag, spec.name, "".join(pieces))

    return write


def _check_css(html: str) -> None:
    """Refuse CSS whose matches could change with what Jinja repeats or leaves out."""
    tree = etree.fromstring(html.strip(), etree.HTMLParser())
    for style in tree.iter("style"):
        sheet = cssutils.parseString(style.text or "", validate=False)
        for rule in sheet.cssRules:
            if rule.type == rule.STYLE_RULE and _STRUCTURAL_SELECTOR.search(rule.selectorText):
                raise UnsupportedTemplate(
                    f"CSS selector {rule.selectorText!r} depends on siblings or attributes"
                )


class _Builder:
    """Swaps Jinja tags for placeholders, then swaps them back after premailer."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.replacements: dict[str, str] = {}  # placeholder → Jinja tag of the HTML template
        self.sources: dict[str, str] = {}  # placeholder → Jinja source inside the tag
        self.attributes: list[_Attribute] = []
        self._pattern = re.compile(rf"{prefix}[vsac]\d+z")

    def _placeholder(self, kind: str, replacement: str, source: str) -> str:
        token = f"{self.prefix}{kind}{len(self.replacements)}z"
        self.replacements[token] = replacement
        self.sources[token] = source
        return token

    def build(self, chunks: list[Chunk]) -> str:
        """The document premailer will see, every Jinja tag replaced by a placeholder."""
        scanner = HtmlScanner()
        out: list[str] = []
        branches: list[tuple[Tag, list[str]]] = []
        attribute: _Pending | None = None
        for chunk in chunks:
            if isinstance(chunk, Text):
                if _OPEN in chunk.text or _CLOSE in chunk.text or self.prefix in chunk.text:
                    raise UnsupportedTemplate(f"{chunk.where}: reserved characters in the text")
                attribute = self._attribute_text(scanner, chunk.text, attribute, out)
                continue
            context = scanner.context
            if not scanner.seen_html or scanner.closed_html:
                raise UnsupportedTemplate(f"{chunk.where}: Jinja outside <html>…</html>")
            if context == ATTRIBUTE:
                attribute = self._attribute_tag(scanner, chunk, attribute)
            elif chunk.kind == "var":
                out.append(self._variable(scanner, chunk, context))
            else:
                self._balance(scanner, chunk, branches)
                statement = f"{_OPEN}% {chunk.source} %{_CLOSE}"
                token = self._placeholder("s", statement, chunk.source)
                if context == TEXT:
                    out.append(f"<!--{token}-->")
                elif context in (RCDATA, COMMENT):
                    out.append(token)
                else:
                    raise UnsupportedTemplate(f"{chunk.where}: Jinja statement inside a tag")
        if branches:
            raise UnsupportedTemplate(f"{branches[-1][0].where}: {{% {branches[-1][0].source} %}}")
        return "".join(out)

    def _variable(self, scanner: HtmlScanner, tag: Tag, context: str) -> str:
        if context == COMMENT:  # comments pass through lxml untouched: plain Jinja escaping
            return self._placeholder("c", f"{_OPEN}{{ {tag.source} }}{_CLOSE}", tag.source)
        if context == RCDATA or (context == TEXT and scanner.parent not in _NO_TEXT_PARENTS):
            html = f"{_OPEN}{{ ({tag.source}) | _lz_text }}{_CLOSE}"
            return self._placeholder("v", html, tag.source)
        raise UnsupportedTemplate(f"{tag.where}: {{{{ {tag.source} }}}} cannot stand here")

    def _attribute_tag(
        self, scanner: HtmlScanner, tag: Tag, attribute: _Pending | None
    ) -> _Pending:
        if tag.kind != "var":
            raise UnsupportedTemplate(f"{tag.where}: Jinja statement inside an attribute value")
        if scanner.attribute in _STYLING_ATTRIBUTES or scanner.attribute.startswith("on"):
            raise UnsupportedTemplate(
                f"{tag.where}: Jinja inside the {scanner.attribute!r} attribute changes styling"
            )
        if attribute is None:
            raise UnsupportedTemplate(f"{tag.where}: Jinja at an unexpected place in a tag")
        attribute[2].append(f"{self.prefix}v{len(attribute[3])}z")  # split on in _unescape
        attribute[3].append(tag.source)
        return attribute

    def _attribute_text(
        self, scanner: HtmlScanner, text: str, attribute: _Pending | None, out: list[str]
    ) -> _Pending | None:
        """Feed text; an attribute value with Jinja in it is held back until it closes."""
        for char in text:
            was_in_value = scanner.context == ATTRIBUTE
            scanner.feed(char)
            in_value = scanner.context == ATTRIBUTE
            if in_value and not was_in_value:
                out.append(char)
                attribute = (scanner.tag, scanner.attribute, [], [])
            elif in_value:
                assert attribute is not None  # set when the value opened
                attribute[2].append(char)
            elif was_in_value:
                assert attribute is not None
                out.append(self._finish_attribute(attribute) + char)
                attribute = None
            else:
                out.append(char)
        return attribute

    def _finish_attribute(self, attribute: _Pending) -> str:
        tag, name, raw, expressions = attribute
        text = "".join(raw)
        if not expressions:
            return text
        index = len(self.attributes)
        self.attributes.append(_Attribute(tag, name, self._unescape(text), tuple(expressions)))
        arguments = ", ".join(f"({e})" for e in expressions)
        html = f"{_OPEN}{{ {index} | _lz_attr({arguments}) }}{_CLOSE}"
        return self._placeholder("a", html, str(index))

    def _unescape(self, raw: str) -> tuple[str, ...]:
        """The literal pieces of an attribute value, decoded by lxml as premailer would."""
        element = etree.fromstring(f'<p title="{raw}"></p>', etree.HTMLParser()).find(".//p")
        assert element is not None  # the <p> parsed just now
        return tuple(self._pattern.split(element.get("title", "")))

    def _balance(self, scanner: HtmlScanner, tag: Tag, branches: list) -> None:
        """Tags opened inside an if/for/with must close in the same branch."""
        keyword = tag.keyword
        if keyword in _OPENING:
            branches.append((tag, list(scanner.stack)))
        elif keyword in _MIDDLE | _CLOSING:
            if not branches:
                raise UnsupportedTemplate(f"{tag.where}: {{% {keyword} %}} without its opening")
            opening, stack = branches[-1]
            if scanner.stack != stack:
                raise UnsupportedTemplate(
                    f"{tag.where}: elements opened inside {{% {opening.source} %}} "
                    f"({opening.where}) must be closed before {{% {keyword} %}}"
                )
            if keyword in _CLOSING:
                branches.pop()
        elif keyword not in _PLAIN_STATEMENTS:
            raise UnsupportedTemplate(f"{tag.where}: {{% {keyword} %}} is not supported in HTML")

    def restore(self, html: str) -> str:
        """The inlined document with its placeholders turned back into Jinja tags."""
        found: set[str] = set()

        def swap(match: re.Match[str]) -> str:
            token = match.group("token")
            if token in found:
                raise UnsupportedTemplate(f"premailer duplicated a placeholder ({token})")
            found.add(token)
            return self.replacements[token]

        p = self.prefix
        html = re.sub(rf' [^\s=]+="(?P<token>{p}a\d+z)"', lambda m: " " + swap(m), html)
        html = re.sub(rf"<!--(?P<token>{p}s\d+z)-->", swap, html)
        html = re.sub(rf"(?P<token>{p}[svc]\d+z)", swap, html)
        missing = set(self.replacements) - found
        if missing:
            raise UnsupportedTemplate(f"premailer dropped or rewrote {len(missing)} placeholders")
        return html
