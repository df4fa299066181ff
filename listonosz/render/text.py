"""The plain-text part of a message kind that has no text template, made from its HTML.

Paragraphs and headings become wrapped blocks of text, table rows become lines, list items get a
dash, and every link keeps its address as a numbered reference (``Program [1]`` … ``[1] https://…``)
listed at the end. Hidden elements (the preheader), ``<head>`` and images without alt text are
left out.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree

WIDTH = 72
BLOCKS = frozenset(
    [
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "tr",
        "ul",
        "ol",
        "li",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
        "center",
        "address",
        "dl",
        "dt",
        "dd",
        "pre",
    ]
)
SKIPPED = frozenset({"head", "style", "script", "title", "template"})
_HIDDEN = re.compile(r"display\s*:\s*none", re.IGNORECASE)
_WHITESPACE = re.compile(r"[ \t\r\n\f]+")  # HTML white space; a no-break space stays
HEADINGS = frozenset({"h1", "h2", "h3"})
REFERENCES_HEADING = "Odnośniki:"
#: Spaces Polish typesetting never breaks a line at: after a one-letter word ("w ramach"),
#: after a number ("7 września 2016 r.", "85 740 00 00") and after "tel.".
_ORPHAN = re.compile(r"(?<!\S)([aiouwzAIOUWZ]|\d+|tel\.) ")
_GLUE = "\u2063"  # invisible separator: glues an orphan to the next word while wrapping


@lru_cache(maxsize=4096)  # paragraphs of the campaign's own text repeat in every message
def wrap_pl(text: str, width: int = WIDTH, indent: str = "", first: str = "") -> str:
    """Wrap a paragraph at ``width`` without breaking words, addresses or hyphenated names,
    without leaving a one-letter word at the end of a line or a dash at the start of one."""
    glued = _ORPHAN.sub(lambda m: m.group(1) + _GLUE, " ".join(text.split()))
    glued = glued.replace(" – ", f"{_GLUE}– ")  # a dash ends a line, never starts one
    return "\n".join(fill(glued, width, first or indent, indent)).replace(_GLUE, " ")


def fill(text: str, width: int, first: str = "", indent: str = "") -> list[str]:
    """Greedy line filling of single-spaced words, exactly as ``textwrap.wrap`` does it without
    breaking long words or at hyphens (a word longer than a line gets a line of its own), at a
    fraction of its cost: every message wraps a paragraph of its own."""
    lines: list[str] = []
    line, empty = first, True
    for word in text.split(" ") if text else ():
        if empty:
            line, empty = line + word, False
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = indent + word
    if not empty:
        lines.append(line)
    return lines


class Writer:
    """Collects blocks of inline text and the link references met on the way."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.line: list[str] = []
        self.links: list[str] = []
        self.prefixes: list[str] = []

    def inline(self, text: str) -> None:
        self.line.append(" " if text.isspace() else _WHITESPACE.sub(" ", text))

    def line_break(self) -> None:
        self.line.append("\n")

    def flush(self, heading: bool = False, prefix: str = "") -> None:
        text = "".join(self.line)
        self.line = []
        if text and not text.isspace():
            wrapped = block(text, heading, prefix)
            if wrapped:
                self.blocks.append(wrapped)

    def reference(self, url: str) -> int:
        if url in self.links:
            return self.links.index(url) + 1
        self.links.append(url)
        return len(self.links)

    def link(self, label: str, href: str) -> None:
        """After a link's label: its reference number, unless the label is the address."""
        href = href.strip()
        if not href or href.startswith("#"):
            return
        label = " ".join(label.split())
        if not _same_address(label, href.removeprefix("mailto:").removeprefix("tel:")):
            self.inline(f" [{self.reference(href)}]")

    def result(self) -> str:
        """The blocks, then the numbered references."""
        self.flush()
        text = "\n\n".join(self.blocks)
        if self.links:
            references = "\n".join(f"[{n}] {url}" for n, url in enumerate(self.links, 1))
            text += f"\n\n{REFERENCES_HEADING}\n{references}"
        return text + "\n"


@lru_cache(maxsize=2048)
def block(text: str, heading: bool, prefix: str) -> str:
    """One block's inline text wrapped (most blocks repeat from recipient to recipient)."""
    lines = [" ".join(part.split()) for part in text.split("\n")]
    lines = [line.upper() if heading else line for line in lines if line]
    indent = " " * len(prefix)
    return "\n".join(
        wrap_pl(line, WIDTH, indent, prefix if number == 0 else indent)
        for number, line in enumerate(lines)
    )


def html_to_text(document: str) -> str:
    """Readable plain text of an HTML e-mail, links kept as numbered references."""
    root = etree.fromstring(document, etree.HTMLParser())
    body = root.find("body")
    writer = Writer()
    _write(body if body is not None else root, writer)
    return writer.result()


def hidden(element: etree._Element) -> bool:
    style = element.get("style")
    return bool(style and "display" in style and _HIDDEN.search(style))


def _write(top: etree._Element, writer: Writer) -> None:
    walker = etree.iterwalk(top, events=("start", "end"))
    for event, element in walker:
        tag = element.tag
        if not isinstance(tag, str):  # a comment: only its tail is text
            if event == "end" and element.tail:
                writer.inline(element.tail)
            continue
        if event == "start":
            if tag in SKIPPED or hidden(element):
                walker.skip_subtree()  # no "end" event follows: write the tail now
                if element.tail:
                    writer.inline(element.tail)
                continue
            _start(element, tag, writer)
        else:
            _end(element, tag, writer)
            if element.tail and element is not top:
                writer.inline(element.tail)


def _start(element: etree._Element, tag: str, writer: Writer) -> None:
    if tag in BLOCKS:
        writer.flush()
        if tag == "li":
            parent = element.getparent()
            if parent is not None and parent.tag == "ol":
                writer.prefixes.append(f"{parent.index(element) + 1}. ")
            else:
                writer.prefixes.append("– ")
    elif tag == "br":
        writer.line_break()
    elif tag == "hr":
        writer.flush()
        writer.blocks.append("-" * WIDTH)
    elif tag == "img":
        alt = " ".join((element.get("alt") or "").split())
        if alt:
            writer.inline(f"[{alt}]")
    if element.text:
        writer.inline(element.text)


def _end(element: etree._Element, tag: str, writer: Writer) -> None:
    if tag == "a":
        _reference(element, writer)
    elif tag in ("td", "th"):
        writer.inline("  ")
    elif tag == "li":
        writer.flush(prefix=writer.prefixes.pop())
    elif tag in BLOCKS:
        writer.flush(heading=tag in HEADINGS)


def _reference(element: etree._Element, writer: Writer) -> None:
    # lxml-stubs allow bytes for a text node; lxml gives str (the document is parsed from str).
    label = "".join(element.itertext())  # type: ignore[arg-type]
    writer.link(label, element.get("href") or "")


def _same_address(label: str, address: str) -> bool:
    def bare(text: str) -> str:
        return text.removeprefix("https://").removeprefix("http://").rstrip("/").casefold()

    return bool(label) and bare(label) == bare(address)
