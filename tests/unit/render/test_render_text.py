"""Plain text made from HTML: readable paragraphs, links as numbered references, Polish wrapping."""

from __future__ import annotations

import random
import textwrap

from listonosz.render.text import fill, html_to_text, wrap_pl


def page(body: str) -> str:
    head = "<head><title>T</title><style>p{}</style></head>"
    return f"<!DOCTYPE html><html>{head}<body>{body}</body></html>"


def test_paragraphs_headings_and_links_as_references() -> None:
    text = html_to_text(
        page(
            '<div style="display: none">ukryty wstęp</div>'
            "<h2>Program <a href='https://x.example/program'>seminarium</a></h2>"
            "<p>Zapraszamy   na\n stronę <a href='https://x.example/'>x.example</a> i do "
            "<a href='https://x.example/program'>programu</a>.</p>"
            "<p>Kontakt: <a href='mailto:biuro@x.example'>biuro@x.example</a><br>"
            "tel. 85 740 00 00</p>"
            "<p><a href='https://x.example/u/abc'>Wypisz się</a></p>"
        )
    )
    assert text == (
        "PROGRAM SEMINARIUM [1]\n\n"
        "Zapraszamy na stronę x.example i do programu [1].\n\n"
        "Kontakt: biuro@x.example\ntel. 85 740 00 00\n\n"
        "Wypisz się [2]\n\n"
        "Odnośniki:\n[1] https://x.example/program\n[2] https://x.example/u/abc\n"
    )


def test_tables_lists_and_images() -> None:
    text = html_to_text(
        page(
            "<table><tr><td>Termin:</td><td>środa, 7 września 2016 r.</td></tr>"
            "<tr><td>Miejsce:</td><td>Hotel<br>Białystok</td></tr></table>"
            "<ul><li>pierwszy</li><li>drugi punkt</li></ul>"
            "<ol><li>raz</li><li>dwa</li></ol>"
            '<p><img src="logo.png" alt="Logo ROPS"> <img src="spacer.gif" alt=""></p>'
        )
    )
    assert text == (
        "Termin: środa, 7 września 2016 r.\n\n"
        "Miejsce: Hotel\nBiałystok\n\n"
        "– pierwszy\n\n– drugi punkt\n\n"
        "1. raz\n\n2. dwa\n\n"
        "[Logo ROPS]\n"
    )


def test_escaped_text_comes_out_literally() -> None:
    text = html_to_text(page("<p>&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} &amp;</p>"))
    assert text == "<script>alert(1)</script> {{ 7*7 }} &\n"


def test_wrap_keeps_one_letter_words_numbers_and_addresses_together() -> None:
    paragraph = (
        "Seminarium odbędzie się w środę, 7 września 2016 r. w Białymstoku i potrwa cztery "
        "godziny; zgłoszenia pod adresem ekonomia.spoleczna@rops-bialystok.example lub "
        "tel. 85 740 00 00 z dopiskiem w temacie."
    )
    wrapped = wrap_pl(paragraph, 40)
    lines = wrapped.split("\n")
    assert " ".join(lines) == paragraph
    assert all(len(line) <= 40 or "@" in line for line in lines)
    for line in lines:
        assert line.split()[-1] not in {"w", "i", "z", "7", "2016", "tel.", "85", "740"}, line
    assert any("ekonomia.spoleczna@rops-bialystok.example" in line for line in lines)
    assert any("tel. 85 740 00 00" in line for line in lines)


def test_fill_wraps_exactly_as_textwrap_does() -> None:
    """The fast line filling gives textwrap's lines (no long-word or hyphen breaks) every time."""
    rng = random.Random(2016)
    letters = "abcąęłó-–.\u2063"
    for _ in range(3000):
        sizes = rng.choices([1, 2, 3, 5, 8, 13, 30, 80], k=rng.randint(0, 40))
        text = " ".join("".join(rng.choices(letters, k=size)) for size in sizes)
        width = rng.choice([10, 20, 40, 72, 100])
        first, indent = rng.choice(["", "  ", "* "]), rng.choice(["", "  "])
        expected = textwrap.wrap(
            text,
            width,
            initial_indent=first or indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        assert fill(text, width, first or indent, indent) == expected, (text, width)
