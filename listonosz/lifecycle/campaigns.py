"""The project's campaigns by id, for readers that start from a delivery (the web app's links
carry a delivery key; its ledger row names the campaign, not the file)."""

from __future__ import annotations

import threading
from pathlib import Path

from listonosz.campaign import Campaign, CampaignError, load_campaign
from listonosz.config import Settings
from listonosz.paths import PathError


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
        try:
            paths = sorted(self._files())
            return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
        except OSError:
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
