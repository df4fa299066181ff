"""Factoring rendered bodies that differ in a few places into one template and its holes.

SendGrid and Mailgun take one body for a whole batch request, with per-recipient values
substituted into it; Listonosz renders every message itself, so a batch's bodies are factored
back into shared ``pieces`` and each message's ``values``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from listonosz.transports.base import Outgoing


class FactoringError(ValueError):
    """Factoring went wrong; callers send the messages unfactored instead."""


@dataclass(frozen=True, slots=True)
class Factored:
    """Texts that differ in a few places: shared ``pieces`` around holes, and each text's
    ``values`` for the holes. ``pieces[0] + values[i][0] + pieces[1] + …`` is text ``i``."""

    pieces: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]

    def template(self, tag: Callable[[int], str]) -> str:
        """The shared text with ``tag(n)`` in hole ``n``."""
        out = [self.pieces[0]]
        for number, piece in enumerate(self.pieces[1:]):
            out += (tag(number), piece)
        return "".join(out)

    def text(self, index: int) -> str:
        return _interleave(self.pieces, self.values[index])

    def holding(self, needle: str) -> set[int]:
        """Indexes of the texts that contain ``needle``, found without rebuilding them: only
        the edges of each piece can take part in a match across a hole."""
        if any(needle in piece for piece in self.pieces):
            return set(range(len(self.values)))
        keep = len(needle) - 1
        edges = [
            p if len(p) <= 2 * keep else f"{p[:keep]}\0{p[len(p) - keep :]}" for p in self.pieces
        ]
        return {i for i, row in enumerate(self.values) if needle in _interleave(edges, row)}


def _interleave(pieces: Sequence[str], values: Sequence[str]) -> str:
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        out += (value, piece)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Bodies:
    """Messages whose text and HTML bodies are factored alike, for one batch request."""

    messages: list[Outgoing]
    text: Factored
    html: Factored


def factor_bodies(
    run: list[Outgoing], syntax: str, own: Callable[[Outgoing], Iterable[str]]
) -> tuple[list[Outgoing], Bodies | None]:
    """(The messages that must go alone, the others' factored bodies, or None when fewer than
    two are left). A message whose text holds the provider's substitution ``syntax`` (in its
    bodies, or in the ``own`` strings it is sent with) cannot share a substituted body.
    Raises ``FactoringError`` when factoring fails."""
    alone: list[Outgoing] = []
    while len(run) > 1:
        parts = [m.parts for m in run if m.parts]
        assert len(parts) == len(run), "HTTP transports take message parts"
        text, html = factor_texts([p.text for p in parts]), factor_texts([p.html for p in parts])
        clashing = text.holding(syntax) | html.holding(syntax)
        clashing |= {i for i, m in enumerate(run) if any(syntax in s for s in own(m))}
        if not clashing:
            return alone, Bodies(run, text, html)
        alone += [m for i, m in enumerate(run) if i in clashing]
        run = [m for i, m in enumerate(run) if i not in clashing]
    return alone + run, None


#: How many texts of a batch are factored in full; the others are fitted to their shape.
SAMPLE = 8
#: How many texts that do not fit may widen the sample before all are factored in full.
WIDENINGS = 4


def factor_texts(texts: Sequence[str]) -> Factored:
    """Factor texts into shared pieces and holes, and verify that every text rebuilds.

    A sample spread over the batch is aligned line by line (``factor``); every other text is
    then cut along the sample's pieces by plain substring search (``fit``), which is far
    cheaper. A text that does not fit joins the sample and the shape is found again; after
    ``WIDENINGS`` of those, every text is aligned. Any cut that rebuilds the texts is correct,
    and each text is rebuilt from the result and compared, so a wrong one can never be sent.
    """
    result = _fitted(texts) if len(texts) > 2 * SAMPLE else None
    result = result or factor(texts)
    for index, text in enumerate(texts):
        if result.text(index) != text:
            raise FactoringError("the factored text does not rebuild every message")
    return result


def _fitted(texts: Sequence[str]) -> Factored | None:
    """The sample's shape with every text's values, or None when too many texts do not fit."""
    step = len(texts) // SAMPLE
    picked = list(range(0, step * SAMPLE, step))
    for _ in range(WIDENINGS + 1):
        pieces = factor([texts[i] for i in picked]).pieces
        values = []
        for index, text in enumerate(texts):
            row = fit(pieces, text)
            if row is None:
                picked.append(index)
                break
            values.append(row)
        else:
            return Factored(pieces, tuple(values))
    return None


def fit(pieces: Sequence[str], text: str) -> tuple[str, ...] | None:
    """The hole values that make ``text`` out of ``pieces``, each piece found at its first
    place after the one before (any such cut rebuilds the text), or None if it has none."""
    first, last = pieces[0], pieces[-1]
    if len(pieces) == 1:
        return () if text == first else None
    end = len(text) - len(last)
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return None
    row, start = [], len(first)
    for piece in pieces[1:-1]:
        found = _find(text, piece, start, end)
        if found < 0:
            return None
        row.append(text[start:found])
        start = found + len(piece)
    row.append(text[start:end])
    return tuple(row)


#: How much of a piece ``_find`` searches for before comparing the whole piece.
PROBE = 32


def _find(text: str, piece: str, start: int, end: int) -> int:
    """``text.find(piece, start, end)``, without preparing a search for all of a long piece:
    ``str.find`` first analyses its whole needle, and pieces run to kilobytes."""
    probe = piece[:PROBE]
    while True:
        found = text.find(probe, start, end)
        if found < 0 or text.startswith(piece, found, end):
            return found
        start = found + 1


def factor(texts: Sequence[str]) -> Factored:
    """Factor texts line by line against the first one.

    A ref line that every text keeps (aligned by ``align``) is shared; each run of other lines
    between two shared lines is a hole, narrowed to the characters where the texts differ.
    """
    ref = texts[0].splitlines(keepends=True)
    count = len(ref)
    dirty_line = [False] * count
    dirty_gap = [False] * (count + 1)  # something inserted before ref line n
    maps: list[tuple[list[str], list[int]] | None] = [None]
    for text in texts[1:]:
        lines = text.splitlines(keepends=True)
        if lines == ref:
            maps.append(None)
            continue
        where = [-1] * count
        for tag, i1, i2, j1 in align(ref, lines):
            if tag == "equal":
                where[i1:i2] = range(j1, j1 + i2 - i1)
            elif i1 == i2:
                dirty_gap[i1] = True
            else:
                dirty_line[i1:i2] = [True] * (i2 - i1)
        maps.append((lines, where))
    holes = _holes(dirty_line, dirty_gap)
    pieces, values = _cut(ref, maps, holes)
    pieces, values = _narrow(pieces, values)
    return Factored(tuple(pieces), tuple(tuple(v) for v in values))


#: How far ahead ``align`` looks for the lines where two texts agree again.
WINDOW = 80


def align(ref: list[str], lines: list[str]) -> list[tuple[str, int, int, int]]:
    """A monotone matching of two line lists: ``("equal", i1, i2, j1)`` runs and
    ``("differ", i1, i2, j1)`` gaps (``i`` in ``ref``, ``j`` in ``lines``).

    Texts rendered from one template agree almost everywhere, so after the common head and tail
    the rest is walked once, re-synchronising at the nearest pair of lines that agree twice in
    a row. Any monotone matching is correct (``factor_texts`` rebuilds every text); a close one only
    keeps the holes small. Linear in practice, unlike difflib's longest-match search.
    """
    n, m = len(ref), len(lines)
    head = _agreeing(ref, lines, 0, 0, n, m)
    tail = 0
    while tail < n - head and tail < m - head and ref[n - 1 - tail] == lines[m - 1 - tail]:
        tail += 1
    i_end, j_end = n - tail, m - tail
    ops: list[tuple[str, int, int, int]] = [("equal", 0, head, 0)] if head else []
    i = j = head
    while i < i_end and j < j_end:
        if ref[i] == lines[j]:
            run = _agreeing(ref, lines, i, j, i_end, j_end)
            ops.append(("equal", i, i + run, j))
            i, j = i + run, j + run
            continue
        best = _resync(ref, lines, i, j, i_end, j_end)
        if best is None:
            break
        ops.append(("differ", i, i + best[0], j))
        i, j = i + best[0], j + best[1]
    if i < i_end or j < j_end:
        ops.append(("differ", i, i_end, j))
    if tail:
        ops.append(("equal", i_end, n, j_end))
    return ops


def _agreeing(ref: list[str], lines: list[str], i: int, j: int, i_end: int, j_end: int) -> int:
    """How many lines from ``ref[i]`` and ``lines[j]`` on are equal: compared in growing
    slices (in C), then line by line inside the slice that differs."""
    limit, done, step = min(i_end - i, j_end - j), 0, 8
    while done < limit:
        size = min(step, limit - done)
        if ref[i + done : i + done + size] == lines[j + done : j + done + size]:
            done, step = done + size, step * 2
            continue
        while ref[i + done] == lines[j + done]:
            done += 1
        return done
    return limit


def _resync(
    ref: list[str], lines: list[str], i: int, j: int, i_end: int, j_end: int
) -> tuple[int, int] | None:
    """The nearest ``(di, dj)`` (smallest sum, within ``WINDOW``) where ``ref[i + di]`` and
    ``lines[j + dj]`` agree, and so do the lines after them (or one text ends there)."""
    # The common case first: one line replaced by one, with nothing nearer than (1, 1).
    one_replaced = (
        i + 1 < i_end
        and j + 1 < j_end
        and ref[i + 1] == lines[j + 1]
        and ref[i] != lines[j + 1]
        and ref[i + 1] != lines[j]
        and (i + 2 >= i_end or j + 2 >= j_end or ref[i + 2] == lines[j + 2])
    )
    if one_replaced:
        return (1, 1)
    best: tuple[int, int] | None = None
    for di in range(min(WINDOW, i_end - i)):
        if best and di >= sum(best):
            break
        target, k = ref[i + di], j
        limit = min(j + WINDOW, j_end, j + sum(best) - di if best else j_end)
        while k < limit:
            try:
                k = lines.index(target, k, limit)  # a C scan: no index of every line needed
            except ValueError:
                break
            ni, nj = i + di + 1, k + 1
            if ni >= i_end or nj >= j_end or ref[ni] == lines[nj]:
                best = (di, k - j)
                break
            k += 1
    return best


def _holes(dirty_line: list[bool], dirty_gap: list[bool]) -> list[tuple[int, int]]:
    """Ref line ranges between consecutive shared lines that hold a difference."""
    count = len(dirty_line)
    clean = [-1, *(i for i in range(count) if not dirty_line[i]), count]
    holes = []
    for before, after in itertools.pairwise(clean):
        start, end = before + 1, after
        if start < end or any(dirty_gap[start : end + 1]):
            holes.append((start, end))
    return holes


def _cut(
    ref: list[str],
    maps: list[tuple[list[str], list[int]] | None],
    holes: list[tuple[int, int]],
) -> tuple[list[str], list[list[str]]]:
    pieces, previous = [], 0
    for start, end in holes:
        pieces.append("".join(ref[previous:start]))
        previous = end
    pieces.append("".join(ref[previous:]))
    values = []
    for mapping in maps:
        if mapping is None:
            values.append(["".join(ref[start:end]) for start, end in holes])
            continue
        lines, where = mapping
        mine = []
        for start, end in holes:
            low = where[start - 1] + 1 if start else 0
            high = where[end] if end < len(ref) else len(lines)
            mine.append("".join(lines[low:high]))
        values.append(mine)
    return pieces, values


def common_prefix(texts: Sequence[str]) -> str:
    """The longest string every text starts with (character by character)."""
    if not texts:
        return ""
    low, high = min(texts), max(texts)  # the extremes bound every other text
    for index, char in enumerate(low):
        if char != high[index]:
            return low[:index]
    return low


def _narrow(pieces: list[str], values: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Move what every text shares at the edges of a hole into the pieces around it."""
    for hole in range(len(pieces) - 1):
        column = [row[hole] for row in values]
        head = common_prefix(column)
        column = [v[len(head) :] for v in column]
        tail = common_prefix([v[::-1] for v in column])[::-1]
        if tail:
            column = [v[: -len(tail)] for v in column]
        pieces[hole] += head
        pieces[hole + 1] = tail + pieces[hole + 1]
        for row, value in zip(values, column, strict=True):
            row[hole] = value
    keep = [h for h in range(len(pieces) - 1) if len({row[h] for row in values}) > 1]
    if len(keep) < len(pieces) - 1:  # holes every text fills alike become shared text
        merged = [pieces[0]]
        new_values: list[list[str]] = [[] for _ in values]
        for hole in range(len(pieces) - 1):
            if hole in keep:
                merged.append(pieces[hole + 1])
                for row, new in zip(values, new_values, strict=True):
                    new.append(row[hole])
            else:
                merged[-1] += values[0][hole] + pieces[hole + 1]
        return merged, new_values
    return pieces, values
