"""The campaign book sees every change to the campaigns folder on the next look: files edited
in place, added, removed and renamed into place, also after it stopped listing the folder for
every look (a folder whose modification time has settled)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from listonosz.config import Settings
from listonosz.lifecycle import CampaignBook
from tests.factories import write_project

CAMPAIGN_ID = "ekonomia-spoleczna-2016"


def _settle(folder: Path) -> None:
    """Move the folder's modification time an hour back: the book then trusts its listing."""
    past = time.time() - 3600
    os.utime(folder, (past, past))


def _book(tmp_path: Path) -> tuple[CampaignBook, Path]:
    path = write_project(tmp_path / "project", 1)
    settings = Settings(
        var_dir=tmp_path / "var",
        project_dir=tmp_path / "project",
        ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        token_secret="s",
    )
    return CampaignBook(settings), path


def test_edits_in_place_show_on_the_next_look(tmp_path: Path) -> None:
    book, path = _book(tmp_path)
    _settle(path.parent)
    first = book.get(CAMPAIGN_ID)
    assert first is not None
    assert book.get(CAMPAIGN_ID) is first  # nothing changed: not read again
    text = path.read_text(encoding="utf-8")
    old = first.event.organiser.short_name
    path.write_text(text.replace(old, "Nowa Nazwa", 1), encoding="utf-8")
    _settle(path.parent)  # an edit in place leaves the folder's time alone
    changed = book.get(CAMPAIGN_ID)
    assert changed is not None and changed.event.organiser.short_name == "Nowa Nazwa"


def test_files_added_removed_and_renamed_show_on_the_next_look(tmp_path: Path) -> None:
    book, path = _book(tmp_path)
    folder = path.parent
    _settle(folder)
    assert [c.id for c in book.all()] == [CAMPAIGN_ID]
    text = path.read_text(encoding="utf-8")

    (folder / "druga.yaml").write_text(text.replace(CAMPAIGN_ID, "druga", 1), encoding="utf-8")
    assert [c.id for c in book.all()] == ["druga", CAMPAIGN_ID]

    _settle(folder)
    book.all()
    scratch = tmp_path / "trzecia.yaml"
    scratch.write_text(text.replace(CAMPAIGN_ID, "trzecia", 1), encoding="utf-8")
    os.replace(scratch, folder / "trzecia.yml")  # how editors save: a rename into place
    assert [c.id for c in book.all()] == ["druga", CAMPAIGN_ID, "trzecia"]

    _settle(folder)
    book.all()
    (folder / "druga.yaml").unlink()
    assert [c.id for c in book.all()] == [CAMPAIGN_ID, "trzecia"]
    assert book.get("druga") is None


def test_a_file_removed_before_the_folder_time_moves_is_noticed(tmp_path: Path) -> None:
    """A listed file gone while the folder's time says nothing changed (a coarse clock)."""
    book, path = _book(tmp_path)
    _settle(path.parent)
    assert book.get(CAMPAIGN_ID) is not None
    stamp = path.parent.stat()
    path.unlink()
    os.utime(path.parent, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert book.get(CAMPAIGN_ID) is None
    assert book.all() == []
