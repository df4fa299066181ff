"""``listonosz preview``: files per recipient, a gallery, and screenshots with Chromium."""

from __future__ import annotations

import email
import email.policy
import struct
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.render.preview import write_previews
from listonosz.render.screenshot import find_chromium
from tests.conftest import CAMPAIGN, unavailable


def _cli() -> typer.Typer:
    from listonosz.cli import app

    return app


def test_preview_writes_html_text_eml_and_gallery(
    campaign: Campaign, audience: list[Contact], tmp_path: Path
) -> None:
    items = write_previews(campaign, "invitation", audience[:4], tmp_path)
    assert [item.number for item in items] == [1, 2, 3, 4]
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    for item in items:
        html = (tmp_path / f"{item.stem}.html").read_text(encoding="utf-8")
        text = (tmp_path / f"{item.stem}.txt").read_text(encoding="utf-8")
        assert item.stem.startswith(f"{item.number:03d}-")
        assert f"{item.salutation}," in text and item.contact.email in html
        assert f'href="{item.stem}.eml"' in index and item.salutation in index
        message = email.message_from_bytes(
            (tmp_path / f"{item.stem}.eml").read_bytes(), policy=email.policy.default
        )
        assert message.get_content_type() == "multipart/mixed"
        assert message["To"].addresses[0].addr_spec == item.contact.email
        assert message["Subject"] == item.subject
        plain = message.get_body(("plain",)).get_content()
        assert plain.replace("\r\n", "\n") == text  # the .eml has CRLF lines, as sent
        body = message.get_body(("html",)).get_content().replace("\r\n", "\n")
        assert body.rstrip("\n") == html  # set_content ends the part with a line break
        [calendar] = list(message.iter_attachments())
        assert calendar.get_content_type() == "text/calendar"
        assert calendar.get_param("method") == "PUBLISH"
        assert calendar.get_filename() == "wydarzenie.ics"
        assert calendar.get_content().startswith("BEGIN:VCALENDAR")
    assert "4 wiadomości" in index
    assert "/r/" in (tmp_path / f"{items[0].stem}.html").read_text(encoding="utf-8")


def test_kinds_without_attachments_give_alternative_only(
    campaign: Campaign, audience: list[Contact], tmp_path: Path
) -> None:
    [item] = write_previews(campaign, "newsletter", audience[:1], tmp_path)
    message = email.message_from_bytes((tmp_path / f"{item.stem}.eml").read_bytes())
    assert message.get_content_type() == "multipart/alternative"
    assert "1 wiadomość" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_preview_command(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        _cli(),
        ["preview", str(CAMPAIGN), "--message", "reminder", "--limit", "3", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "3 of 86 recipients rendered (reminder; CSS inlined once per template)" in result.output
    assert len(list(out.glob("*.eml"))) == 3 and (out / "index.html").is_file()


def test_preview_command_reports_an_unknown_kind(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _cli(), ["preview", str(CAMPAIGN), "--message", "survey", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "declares no message 'survey'" in result.output


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def chromium() -> str:
    """The Chromium binary the screenshots use; missing, the test fails in CI, skips elsewhere."""
    binary = find_chromium()
    if binary is None:
        unavailable(
            "Chromium is not installed: scripts/setup-system.sh installs it as root "
            "(`make test` runs it), or `apt-get install chromium`"
        )
    return binary


@pytest.mark.slow
@pytest.mark.usefixtures("chromium")
def test_screenshots_at_600_and_375_pixels(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _cli(),
        ["preview", str(CAMPAIGN), "--limit", "1", "--out", str(tmp_path), "--screenshots"],
    )
    assert result.exit_code == 0, result.output
    [wide] = tmp_path.glob("001-*-600.png")
    [narrow] = tmp_path.glob("001-*-375.png")
    wide_size, narrow_size = _png_size(wide), _png_size(narrow)
    assert wide_size[0] == 600 and narrow_size[0] == 375
    # the whole message, taller when narrow: text wraps into more lines
    assert 1500 < wide_size[1] < narrow_size[1] < 5000
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert f'src="{wide.name}"' in index and f'src="{narrow.name}"' in index
