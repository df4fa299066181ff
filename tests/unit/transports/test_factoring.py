"""Factoring rendered bodies into shared pieces and per-recipient values (SendGrid, Mailgun)."""

from __future__ import annotations

import random

import pytest

from listonosz.transports import factoring as module
from listonosz.transports.factoring import Factored, factor, factor_texts, fit


def edited(rng: random.Random, base: list[str], edits: int) -> str:
    """``base`` with a few lines replaced, inserted, deleted or changed inline."""
    lines = list(base)
    for _ in range(edits):
        at = rng.randrange(len(lines))
        edit = rng.choice(["replace", "insert", "delete", "inline"])
        if edit == "replace":
            lines[at] = f"osobiste {rng.random()}\n"
        elif edit == "insert":
            lines[at:at] = [f"wstawka {rng.random()}\n"] * rng.randint(1, 5)
        elif edit == "delete":
            del lines[at]
        else:
            lines[at] = lines[at].rstrip("\n") + f" {rng.randint(0, 9)}\n"
    return "".join(lines)


def random_base(rng: random.Random, count: int = 80) -> list[str]:
    words = ["<td>", "</tr>", "", "Szanowni Państwo,", "ekonomia", "społeczna", "</table>"]
    return [" ".join(rng.choices(words, k=4)) + "\n" for _ in range(count)]


def test_factoring_rebuilds_every_variant_and_keeps_holes_small() -> None:
    rng = random.Random(7)
    base = random_base(rng)
    texts = ["".join(base)] + [edited(rng, base, rng.randint(0, 4)) for _ in range(40)]
    factored = factor_texts(texts)
    assert [factored.text(i) for i in range(len(texts))] == texts
    shared = sum(len(p) for p in factored.pieces)
    assert shared > 0.5 * len(texts[0])  # most of the text is shared, not substituted


def letter(name: str, extra: str = "") -> str:
    return (
        "<html><body>\n<p>Szanowna Pani " + name + ",</p>\n" + extra
        + "<p>zapraszamy na seminarium o ekonomii społecznej.</p>\n"
        + "<p>Program jest w załączniku.</p>\n"
        + "<a href=\"https://rops.example/u/" + name.lower() + "\">wypisz</a>\n</body></html>\n"
    )  # fmt: skip


def test_texts_outside_the_sample_are_fitted_and_a_late_variant_widens_the_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [f"Osoba{n}" for n in range(300)]
    texts = [letter(name) for name in names]
    texts[250] = letter(names[250], "<p>Dla jednostek samorządu: sala B.</p>\n")  # in no sample
    factored_in_full = []
    monkeypatch.setattr(module, "factor", lambda t: factored_in_full.append(len(t)) or factor(t))
    result = factor_texts(texts)
    assert [result.text(i) for i in range(len(texts))] == texts
    assert factored_in_full == [module.SAMPLE, module.SAMPLE + 1]  # one widening, no full pass
    assert "zapraszamy na seminarium" in "".join(result.pieces)
    assert all("Osoba" not in piece for piece in result.pieces[1:])  # names are in the holes


def test_too_many_shapes_fall_back_to_aligning_every_text(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(11)
    base = random_base(rng, 40)
    texts = [edited(rng, base, 3) for _ in range(60)]  # each edited differently
    factored_in_full = []
    monkeypatch.setattr(module, "factor", lambda t: factored_in_full.append(len(t)) or factor(t))
    result = factor_texts(texts)
    assert [result.text(i) for i in range(len(texts))] == texts
    assert factored_in_full[-1] == len(texts)


def test_fit_cuts_along_the_pieces_or_says_it_cannot() -> None:
    pieces = ("Dzień dobry ", ", zapraszamy ", ".")
    assert fit(pieces, "Dzień dobry Anno, zapraszamy jutro.") == ("Anno", "jutro")
    assert fit(pieces, "Dzień dobry Anno, zapraszamy jutro!") is None
    assert fit(pieces, "Witamy Anno, zapraszamy jutro.") is None
    assert fit(pieces, "Dzień dobry Anno. zapraszamy jutro.") is None
    assert fit(("same",), "same") == ()
    assert fit(("same",), "other") is None
    assert fit(("ab", "ba"), "aba") is None  # the pieces would overlap


def test_holding_finds_a_needle_wherever_it_lies_even_across_a_hole() -> None:
    rng = random.Random(3)
    alphabet = "%lz0ab"  # small, so the needle turns up in pieces, holes and across both
    for _ in range(3000):
        pieces = tuple("".join(rng.choices(alphabet, k=rng.randint(0, 6))) for _ in range(4))
        values = tuple(
            tuple("".join(rng.choices(alphabet, k=rng.randint(0, 3))) for _ in range(3))
            for _ in range(4)
        )
        factored = Factored(pieces, values)
        for needle in ("%lz", "z"):  # a one-character needle keeps no edge of a piece
            expected = {i for i in range(len(values)) if needle in factored.text(i)}
            assert factored.holding(needle) == expected, (needle, pieces, values)


def test_the_probing_search_finds_what_str_find_finds() -> None:
    rng = random.Random(13)
    motifs = ["a" * module.PROBE, "ab", "ł", "a" * (module.PROBE + 5) + "b"]
    for _ in range(20_000):
        text = "".join(rng.choices(motifs, k=rng.randint(0, 12)))
        low = rng.randint(0, len(text))
        piece = text[low : rng.randint(low, len(text))] + rng.choice(["", "b", "ł"])
        start, end = rng.randint(0, len(text)), rng.randint(0, len(text) + 3)
        assert module._find(text, piece, start, end) == text.find(piece, start, end)
