"""Where in an HTML document a point of the text falls: element content, a comment, a quoted
attribute value, inside a tag… A small resumable state machine, fed the template's text between
Jinja tags, so each tag's context is known before premailer ever sees the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VOID_ELEMENTS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
RAWTEXT_ELEMENTS = frozenset({"style", "script"})  # nothing of ours may go inside
RCDATA_ELEMENTS = frozenset({"title", "textarea"})  # text only: no comments, no tags

# Contexts reported by :attr:`HtmlScanner.context`.
TEXT, RCDATA, COMMENT, ATTRIBUTE, RAWTEXT, MARKUP = (
    "text",
    "rcdata",
    "comment",
    "attribute",
    "rawtext",
    "markup",
)


@dataclass
class HtmlScanner:
    """Feed text with :meth:`feed`; read :attr:`context`, :attr:`stack` and the open attribute."""

    state: str = "text"
    stack: list[str] = field(default_factory=list)
    tag: str = ""
    attribute: str = ""
    end_tag: str = ""
    raw_buffer: str = ""
    seen_html: bool = False
    closed_html: bool = False
    _dashes: int = 0
    _self_closing: bool = False

    @property
    def context(self) -> str:
        if self.state == "text":
            return TEXT
        if self.state == "rcdata":
            return RCDATA
        if self.state == "comment":
            return COMMENT
        if self.state in ("value_dq", "value_sq"):
            return ATTRIBUTE
        if self.state == "rawtext":
            return RAWTEXT
        return MARKUP

    @property
    def parent(self) -> str:
        return self.stack[-1] if self.stack else ""

    def feed(self, text: str) -> None:
        for char in text:
            getattr(self, f"_{self.state}")(char)

    # --- element content -------------------------------------------------------------------

    def _text(self, c: str) -> None:
        if c == "<":
            self.state = "lt"

    def _lt(self, c: str) -> None:
        if c == "!":
            self.state, self._dashes = "bang", 0
        elif c == "/":
            self.state, self.end_tag = "end_start", ""
        elif c.isalpha():
            self.state, self.tag, self._self_closing = "tag_name", c.lower(), False
        elif c == "?":
            self.state = "decl"
        else:
            self.state = "text"
            self._text(c)

    def _bang(self, c: str) -> None:
        if c == "-" and self._dashes == 0:
            self._dashes = 1
        elif c == "-" and self._dashes == 1:
            self.state, self._dashes = "comment", 0
        else:
            self.state = "decl"
            self._decl(c)

    def _comment(self, c: str) -> None:
        if c == ">" and self._dashes >= 2:
            self.state = "text"
        self._dashes = self._dashes + 1 if c == "-" else 0

    def _decl(self, c: str) -> None:
        if c == ">":
            self.state = "text"

    # --- end tags --------------------------------------------------------------------------

    def _end_start(self, c: str) -> None:
        if c.isalpha():
            self.state, self.end_tag = "end_name", c.lower()
        else:
            self.state = "decl"
            self._decl(c)

    def _end_name(self, c: str) -> None:
        if c == ">":
            self._close(self.end_tag)
        elif c.isspace() or c == "/":
            self.state = "end_rest"
        else:
            self.end_tag += c.lower()

    def _end_rest(self, c: str) -> None:
        if c == ">":
            self._close(self.end_tag)

    def _close(self, name: str) -> None:
        self.state = "text"
        if name == "html":
            self.closed_html = True
        if name in self.stack:
            while self.stack.pop() != name:
                pass

    # --- start tags and attributes ---------------------------------------------------------

    def _tag_name(self, c: str) -> None:
        if c.isspace():
            self.state = "before_attr"
        elif c in "/>":
            self.state = "before_attr"
            self._before_attr(c)
        else:
            self.tag += c.lower()

    def _before_attr(self, c: str) -> None:
        if c == ">":
            self._open()
        elif c == "/":
            self._self_closing = True
        elif not c.isspace():
            self._self_closing = False
            self.state, self.attribute = "attr_name", c.lower()

    def _attr_name(self, c: str) -> None:
        if c == "=":
            self.state = "before_value"
        elif c.isspace():
            self.state = "after_attr_name"
        elif c in "/>":
            self.state = "before_attr"
            self._before_attr(c)
        else:
            self.attribute += c.lower()

    def _after_attr_name(self, c: str) -> None:
        if c == "=":
            self.state = "before_value"
        elif not c.isspace():
            self.state = "before_attr"
            self._before_attr(c)

    def _before_value(self, c: str) -> None:
        if c == '"':
            self.state = "value_dq"
        elif c == "'":
            self.state = "value_sq"
        elif c == ">":
            self._open()
        elif not c.isspace():
            self.state = "value_unquoted"

    def _value_dq(self, c: str) -> None:
        if c == '"':
            self.state = "before_attr"

    def _value_sq(self, c: str) -> None:
        if c == "'":
            self.state = "before_attr"

    def _value_unquoted(self, c: str) -> None:
        if c.isspace():
            self.state = "before_attr"
        elif c == ">":
            self._open()

    def _open(self) -> None:
        name = self.tag
        self.state = "text"
        if name == "html":
            self.seen_html = True
        if name in VOID_ELEMENTS or self._self_closing:
            return
        self.stack.append(name)
        if name in RAWTEXT_ELEMENTS | RCDATA_ELEMENTS:
            self.state = "rawtext" if name in RAWTEXT_ELEMENTS else "rcdata"
            self.raw_buffer = ""

    # --- raw text (style, script) and RCDATA (title, textarea) -----------------------------

    def _raw(self, c: str) -> None:
        closing = f"</{self.parent}"
        if self.raw_buffer == closing and (c.isspace() or c in "/>"):
            self.end_tag, self.raw_buffer = self.parent, ""
            self.state = "end_rest"
            self._end_rest(c)
            return
        candidate = (self.raw_buffer + c).lower()
        self.raw_buffer = candidate if closing.startswith(candidate) else ("<" if c == "<" else "")

    _rawtext = _raw
    _rcdata = _raw
