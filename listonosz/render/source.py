"""A template and everything it extends or includes, as one flat list of text and Jinja tags.

Jinja's own lexer splits the source, so whitespace control (``{%-``, ``-%}``) is applied exactly
as Jinja applies it, and comments are dropped. ``{% extends %}``, ``{% block %}`` and static
``{% include %}`` are resolved here; what remains is output text (:class:`Text`) and the
expressions and statements (:class:`Tag`) that produce or steer it. The CSS inliner needs this
flat view: premailer must see the whole document at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jinja2 import Environment, TemplateNotFound

from listonosz.errors import ListonoszError


class UnsupportedTemplate(ListonoszError, ValueError):
    """A construct the flattener (and so inlining once) cannot handle; says which and where."""


@dataclass(frozen=True, slots=True)
class Text:
    """Literal output text."""

    text: str
    where: str


@dataclass(frozen=True, slots=True)
class Tag:
    """A Jinja expression (``kind == "var"``) or statement (``"block"``), its source inside."""

    kind: str
    source: str
    where: str

    @property
    def keyword(self) -> str:
        return self.source.split(None, 1)[0] if self.kind == "block" and self.source else ""


Chunk = Text | Tag

_STRING_ARG = re.compile(r"""\s*("([^"\\]*)"|'([^'\\]*)')\s*(?P<rest>.*)$""", re.S)
_REFUSED = {
    "macro": "macros return HTML the inliner cannot see; write the markup in place",
    "call": "call blocks return HTML the inliner cannot see",
    "filter": "a filter block rewrites HTML after inlining",
    "import": "imported macros return HTML the inliner cannot see",
    "from": "imported macros return HTML the inliner cannot see",
    "autoescape": "autoescape blocks change how values are escaped",
    "extends": "extends must be the first tag of a template",
}
_MAX_DEPTH = 20


def _lex(env: Environment, name: str) -> tuple[list[Chunk], str]:
    """The template's chunks, before blocks are resolved; and its parent, if it extends one."""
    assert env.loader is not None  # the render environments load their templates from files
    source, filename, _ = env.loader.get_source(env, name)
    chunks: list[Chunk] = []
    parent = ""
    parts: list[str] = []
    kind, line = "", 0
    for lineno, token, value in env.lexer.tokeniter(source, name, filename):
        where = f"{name}:{lineno}"
        if token == "data":
            chunks.append(Text(value, where))
        elif token in ("variable_begin", "block_begin"):
            kind, parts, line = ("var" if token == "variable_begin" else "block"), [], lineno
        elif token in ("variable_end", "block_end"):
            tag = Tag(kind, "".join(parts).strip(), f"{name}:{line}")
            kind = ""
            if tag.keyword == "extends":
                if parent or any(not isinstance(c, Text) or c.text.strip() for c in chunks):
                    raise UnsupportedTemplate(f"{tag.where}: {_REFUSED['extends']}")
                parent = _static_name(tag, "extends")
                chunks = []
                continue
            chunks.append(tag)
        elif token in ("raw_begin", "raw_end"):
            raise UnsupportedTemplate(f"{where}: raw blocks are not supported in HTML")
        elif token.startswith(("comment", "linecomment")):
            continue
        elif kind:
            parts.append(value)
    return chunks, parent


def _static_name(tag: Tag, keyword: str) -> str:
    match = _STRING_ARG.match(tag.source[len(keyword) :])
    if not match:
        raise UnsupportedTemplate(f"{tag.where}: {keyword} needs a quoted template name")
    return match.group(2) if match.group(2) is not None else match.group(3)


def _blocks(chunks: list[Chunk]) -> dict[str, list[Chunk]]:
    """Every block defined in ``chunks`` (nested ones too), name → body."""
    found: dict[str, list[Chunk]] = {}
    stack: list[tuple[str, int]] = []
    for i, chunk in enumerate(chunks):
        if isinstance(chunk, Tag) and chunk.keyword == "block":
            words = chunk.source.split()
            if len(words) != 2:
                raise UnsupportedTemplate(f"{chunk.where}: only plain {{% block name %}} blocks")
            stack.append((words[1], i))
        elif isinstance(chunk, Tag) and chunk.keyword == "endblock":
            if not stack:
                raise UnsupportedTemplate(f"{chunk.where}: endblock without block")
            block, start = stack.pop()
            found.setdefault(block, chunks[start + 1 : i])
    if stack:
        raise UnsupportedTemplate(f"block {stack[-1][0]!r} is never closed")
    return found


def flatten(env: Environment, name: str) -> list[Chunk]:
    """``name`` with its parents, blocks and static includes resolved into one list of chunks.

    A block body or included template runs inside ``{% with %}`` so that variables it sets stay
    in it, as they would in Jinja.
    """
    return _merge(_expand(env, name, {}, 0))


def _expand(
    env: Environment, name: str, overrides: dict[str, list[Chunk]], depth: int
) -> list[Chunk]:
    if depth > _MAX_DEPTH:
        raise UnsupportedTemplate(f"{name}: templates extend or include each other too deeply")
    chunks, parent = _lex(env, name)
    merged = {**_blocks(chunks), **overrides}  # the most derived template's block wins
    if not parent:
        return _resolve(env, chunks, merged, depth)
    level = 0
    for chunk in chunks:
        opens = isinstance(chunk, Tag) and chunk.keyword == "block"
        closes = isinstance(chunk, Tag) and chunk.keyword == "endblock"
        outside = level == 0 and not opens
        if outside and (isinstance(chunk, Tag) or chunk.text.strip()):
            raise UnsupportedTemplate(
                f"{chunk.where}: a template that extends another may only define blocks"
            )
        level += opens - closes
    return _expand(env, parent, merged, depth + 1)


def _resolve(
    env: Environment, chunks: list[Chunk], blocks: dict[str, list[Chunk]], depth: int
) -> list[Chunk]:
    out: list[Chunk] = []
    i = 0
    while i < len(chunks):
        chunk = chunks[i]
        if isinstance(chunk, Text):
            out.append(chunk)
            i += 1
            continue
        if "super(" in chunk.source or re.search(r"\bself\.", chunk.source):
            raise UnsupportedTemplate(f"{chunk.where}: super() and self.<block> are not supported")
        keyword = chunk.keyword
        if keyword in _REFUSED:
            raise UnsupportedTemplate(f"{chunk.where}: {keyword}: {_REFUSED[keyword]}")
        if keyword == "set" and "=" not in chunk.source:
            raise UnsupportedTemplate(f"{chunk.where}: a set block captures HTML; use set x = …")
        if keyword == "block":
            block = chunk.source.split()[1]
            end = _matching_end(chunks, i)
            body = _resolve(env, blocks.get(block, chunks[i + 1 : end]), blocks, depth)
            out += [Tag("block", "with", chunk.where), *body, Tag("block", "endwith", chunk.where)]
            i = end + 1
            continue
        if keyword == "include":
            out += _include(env, chunk, depth)
            i += 1
            continue
        out.append(chunk)
        i += 1
    return out


def _matching_end(chunks: list[Chunk], start: int) -> int:
    depth = 0
    for j in range(start, len(chunks)):
        chunk = chunks[j]
        if isinstance(chunk, Tag) and chunk.keyword == "block":
            depth += 1
        elif isinstance(chunk, Tag) and chunk.keyword == "endblock":
            depth -= 1
            if depth == 0:
                return j
    raise UnsupportedTemplate(f"{chunks[start].where}: block is never closed")


def _include(env: Environment, tag: Tag, depth: int) -> list[Chunk]:
    included = _static_name(tag, "include")
    match = _STRING_ARG.match(tag.source[len("include") :])
    options = " ".join(match.group("rest").split()) if match else ""
    if options not in ("", "ignore missing", "with context", "ignore missing with context"):
        raise UnsupportedTemplate(f"{tag.where}: include {options!r} is not supported")
    try:
        body = _expand(env, included, {}, depth + 1)
    except TemplateNotFound:
        if "ignore missing" in options:
            return []
        raise
    return [Tag("block", "with", tag.where), *body, Tag("block", "endwith", tag.where)]


def _merge(chunks: list[Chunk]) -> list[Chunk]:
    """Adjacent text chunks joined, empty ones dropped."""
    out: list[Chunk] = []
    for chunk in chunks:
        if isinstance(chunk, Text):
            if not chunk.text:
                continue
            if out and isinstance(out[-1], Text):
                out[-1] = Text(out[-1].text + chunk.text, out[-1].where)
                continue
        out.append(chunk)
    return out
