"""The project's campaigns by id, for readers that start from a delivery (the web app's links
carry a delivery key; its ledger row names the campaign, not the file)."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

from listonosz.campaign import Campaign, CampaignError, load_campaign
from listonosz.config import Settings
from listonosz.paths import PathError

#: A folder changed this recently (nanoseconds) is listed again on the next look.
_SETTLED_NS = 2_000_000_000


class CampaignBook:
    """Every valid campaign file in the project's ``campaigns/`` folder, by id.

    Read once, and again when a file there changes (by its modification time and size), so a
    campaign staff edit shows on the next page without restarting anything. A file that does
    not load is left out (``listonosz send`` is where its errors are shown).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._folder = settings.project_dir / "campaigns"
        self._lock = threading.Lock()
        self._seen: tuple[tuple[str, int, int], ...] | None = None
        self._by_id: dict[str, Campaign] = {}
        self._paths: dict[str, Path] = {}
        #: the folder's campaign files as last listed, and the folder's mtime then
        self._listing: list[str] = []
        self._listed_at: int | None = None

    def get(self, campaign_id: str) -> Campaign | None:
        """The campaign with this id, or None."""
        return next((c for c in self.all() if c.id == campaign_id), None)

    def path_of(self, campaign_id: str) -> Path | None:
        """The file of the campaign with this id (as loaded last), or None."""
        self.all()
        return self._paths.get(campaign_id)

    def all(self) -> list[Campaign]:
        """Every campaign of the project, by id."""
        with self._lock:
            stamp = self._stamp()
            if stamp != self._seen:
                self._by_id, self._paths = self._load()
                self._seen = stamp
            return [self._by_id[key] for key in sorted(self._by_id)]

    def _stamp(self) -> tuple[tuple[str, int, int], ...]:
        """Each campaign file's path, modification time and size.

        The folder is listed again only when its own modification time changed (a file
        added, removed or renamed into place), or is too recent to trust (timestamps are
        coarser than a quick edit); otherwise one ``stat`` per file, for every page.
        """
        try:
            folder = os.stat(self._folder)
            if not stat.S_ISDIR(folder.st_mode):
                return ()
            if folder.st_mtime_ns != self._listed_at:
                self._listing = sorted(str(p) for p in self._files())
                settled = time.time_ns() - folder.st_mtime_ns > _SETTLED_NS
                self._listed_at = folder.st_mtime_ns if settled else None
            found = []
            for name in self._listing:
                file = os.stat(name)
                found.append((name, file.st_mtime_ns, file.st_size))
            return tuple(found)
        except OSError:  # the folder, or a file listed, went away meanwhile
            self._listed_at = None
            return ()

    def _files(self) -> list[Path]:
        if not self._folder.is_dir():
            return []
        return [p for p in self._folder.iterdir() if p.suffix in (".yaml", ".yml")]

    def _load(self) -> tuple[dict[str, Campaign], dict[str, Path]]:
        found: dict[str, Campaign] = {}
        paths: dict[str, Path] = {}
        for path in sorted(self._files()):
            try:
                campaign = load_campaign(
                    path,
                    allowed_dirs=self._settings.allowed_dirs,
                    var_dir=self._settings.var_dir,
                )
            except (CampaignError, PathError):
                continue
            if campaign.id not in found:
                found[campaign.id] = campaign
                paths[campaign.id] = path
        return found, paths
