"""The text part of an HTML-only message kind, compiled once per template instead of per message.

:func:`listonosz.render.text.html_to_text` parses every rendered message. Here the inlined
document, still holding its placeholders, is walked once by the same rules, and the walk becomes
a small Jinja template writing the text with marker characters where the structure matters
(block ends, line breaks, list items, links). :func:`finish_text` turns that stream into exactly
the text ``html_to_text`` gives for the rendered HTML; the tests compare the two on every sample
message. Where the walk would depend on values (an ``alt`` text or list number made by Jinja)
compiling is refused (:class:`UnsupportedTemplate`) and ``html_to_text`` is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from lxml import etree

from listonosz.render.serialise import NeedsFullInlining, parsed_attribute, plain_value
from listonosz.render.source import UnsupportedTemplate
from listonosz.render.text import BLOCKS, HEADINGS, SKIPPED, WIDTH, Writer, hidden

# Markers of the compiled stream: private-use characters (a value holding one is refused).
FLUSH, HEADING, BREAK, RULE = "\ue010", "\ue011", "\ue012", "\ue013"
LINK, HREF, LINK_END = "\ue014", "\ue015", "\ue016"
ITEM, ITEM_PREFIX_END, ITEM_END = "\ue017", "\ue018", "\ue019"
_PIECES = re.compile("\ue017([^\ue018]*)\ue018|([\ue010-\ue016\ue019])|([^\ue010-\ue019]+)")
_RESERVED = re.compile("[\ue000-\ue01f]")
# White space next to a block boundary or line break is dropped by the writer anyway, and a
# boundary right after another one changes nothing: squeezing both out of the compiled literal
# text saves most of the work of writing each stream.
_AROUND_BOUNDARY = re.compile("[ \t\r\n\f]*([\ue010-\ue013\ue019])[ \t\r\n\f]*")
_AROUND_ITEM = re.compile("[ \t\r\n\f]*(\ue017[^\ue018]*\ue018)[ \t\r\n\f]*")
_REPEATED_FLUSH = re.compile("([\ue010\ue011])[\ue010\ue011]+")


def plain_text(value: object) -> str:
    """Filter ``_lz_plain``: a value's text, or :class:`NeedsFullInlining` to use the HTML."""
    text = plain_value(value)
    if _RESERVED.search(text):
        raise NeedsFullInlining("a value holds a reserved private-use character")
    return text


def href_reader(
    tag_names: Sequence[tuple[str, str]], static: Sequence[tuple[str, ...]]
) -> Callable[..., str]:
    """Filter ``_lz_href``: the address lxml reads back from an attribute made by Jinja."""

    def read(index: int, *values: object) -> str:
        pieces = [static[index][0]]
        for value, after in zip(values, static[index][1:], strict=True):
            pieces += [plain_text(value), after]
        tag, name = tag_names[index]
        return parsed_attribute(tag, name, "".join(pieces))

    return read


def compile_text(
    document: str,
    prefix: str,
    sources: Mapping[str, str],
    expressions: Sequence[tuple[str, ...]],
    delimiters: tuple[str, str],
) -> str:
    """The Jinja source (with ``delimiters``) writing the marker stream of ``document``.

    ``document`` is the inlined HTML holding placeholders named ``prefix…``; ``sources`` maps
    each placeholder to its Jinja source; ``expressions`` are those of each attribute placeholder.
    """
    compiler = _TextCompiler(prefix, sources, expressions, delimiters)
    compiler.walk(etree.fromstring(document, etree.HTMLParser()), skipping=True)
    stream = _AROUND_BOUNDARY.sub(r"\1", "".join(compiler.out))
    return _REPEATED_FLUSH.sub(r"\1", _AROUND_ITEM.sub(r"\1", stream))


class _TextCompiler:
    """Walks the document as :func:`html_to_text` does, writing Jinja source instead of text."""

    def __init__(
        self,
        prefix: str,
        sources: Mapping[str, str],
        expressions: Sequence[tuple[str, ...]],
        delimiters: tuple[str, str],
    ) -> None:
        self.sources = sources
        self.expressions = expressions
        self.open, self.close = delimiters
        self.tokens = re.compile(rf"({prefix}[vsac]\d+z)")
        self.kind = re.compile(rf"{prefix}([vsac])\d+z")
        self.out: list[str] = []

    def _statement(self, token: str) -> None:
        self.out.append(f"{self.open}% {self.sources[token]} %{self.close}")

    def _statements_in(self, text: str | None) -> None:
        """Only the statements of skipped text: they may set variables used later."""
        for token in self.tokens.findall(text or ""):
            # Every token matches ``kind``: placeholders are all made to that pattern.
            if self.kind.fullmatch(token).group(1) == "s":  # type: ignore[union-attr]
                self._statement(token)

    def _text(self, text: str | None) -> None:
        for piece in self.tokens.split(text or ""):
            if piece in self.sources:  # a placeholder, so it matches ``kind``
                kind = self.kind.fullmatch(piece).group(1)  # type: ignore[union-attr]
                if kind == "v":
                    source = self.sources[piece]
                    self.out.append(f"{self.open}{{ ({source}) | _lz_plain }}{self.close}")
                elif kind == "s":
                    self._statement(piece)
            elif piece:
                self.out.append(piece)

    def walk(self, element: etree._Element, skipping: bool) -> None:
        """Plan the children of ``element``; outside ``<body>`` and in hidden parts, only the
        statements (so that ``set`` and loops stay balanced and in order)."""
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if not tag:
                self._statements_in(child.text)  # a comment: maybe a statement placeholder
            elif skipping and tag == "body":
                self._text(child.text)
                self.walk(child, skipping=False)
            elif skipping or tag in SKIPPED or hidden(child):
                self._statements_in(child.text)
                self.walk(child, skipping=True)
            else:
                self._element(child, tag)
            if skipping:
                self._statements_in(child.tail)
            else:
                self._text(child.tail)

    def _element(self, element: etree._Element, tag: str) -> None:
        if tag in BLOCKS:
            self.out.append(FLUSH)
            if tag == "li":
                self.out.append(f"{ITEM}{self._marker(element)}{ITEM_PREFIX_END}")
        elif tag == "br":
            self.out.append(BREAK)
        elif tag == "hr":
            self.out.append(RULE)
        elif tag == "img":
            alt = element.get("alt") or ""
            if self.tokens.search(alt):
                raise UnsupportedTemplate("an alt text made by Jinja")
            if alt.split():
                self.out.append(f"[{' '.join(alt.split())}]")
        elif tag == "a":
            self.out.append(LINK)
        self._text(element.text)
        self.walk(element, skipping=False)
        if tag == "a":
            self.out += [HREF, self._href(element.get("href") or ""), LINK_END]
        elif tag in ("td", "th"):
            self.out.append("  ")
        elif tag == "li":
            self.out.append(ITEM_END)
        elif tag in BLOCKS:
            self.out.append(HEADING if tag in HEADINGS else FLUSH)

    def _href(self, href: str) -> str:
        if href in self.sources:  # the whole value is an attribute placeholder
            index = int(self.sources[href])
            arguments = ", ".join(f"({e})" for e in self.expressions[index])
            return f"{self.open}{{ {index} | _lz_href({arguments}) }}{self.close}"
        if self.tokens.search(href) or _RESERVED.search(href):
            raise UnsupportedTemplate("a link address the compiled text cannot follow")
        return href

    def _marker(self, item: etree._Element) -> str:
        """A dash, or the item's number in a numbered list that Jinja does not repeat."""
        parent = item.getparent()
        if parent is None or parent.tag != "ol":
            return "– "
        if any(not isinstance(child.tag, str) for child in parent):
            raise UnsupportedTemplate("a numbered list with Jinja statements in it")
        return f"{parent.index(item) + 1}. "


def finish_text(stream: str) -> str:
    """The text part written from a compiled stream, as ``html_to_text`` writes it."""
    writer = Writer()
    prefixes: list[str] = []
    label: list[str] | None = None
    href: list[str] | None = None
    for match in _PIECES.finditer(stream):
        prefix, marker, text = match.groups()
        if text is not None:
            if href is not None:
                href.append(text)
                continue
            writer.inline(text)
            if label is not None:
                label.append(text)
        elif prefix is not None:
            prefixes.append(prefix)
        elif marker == FLUSH:
            writer.flush()
        elif marker == HEADING:
            writer.flush(heading=True)
        elif marker == BREAK:
            writer.line_break()
        elif marker == RULE:
            writer.flush()
            writer.blocks.append("-" * WIDTH)
        elif marker == ITEM_END:
            writer.flush(prefix=prefixes.pop())
        elif marker == LINK:
            label = []
        elif marker == HREF:
            href = []
        elif marker == LINK_END:
            writer.link("".join(label or ()), "".join(href or ()))
            label = href = None
    return writer.result()
