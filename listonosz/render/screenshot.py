"""PNG screenshots of rendered messages with headless Chromium, at a mail client's width.

Chromium's ``--screenshot`` captures the window, so each shot takes two runs: one measures the
message's height at that width (``--dump-dom`` after a tiny script), one captures exactly that.
Nothing is fetched from the network: host resolution is switched off.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from listonosz.errors import ListonoszError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTHS = (600, 375)
_TIMEOUT = 60
_MEASURE = (
    "<script>addEventListener('load',function(){{var d=document.documentElement;"
    "d.style.width='{width}px';"
    "d.setAttribute('data-lz-height',Math.ceil(d.scrollHeight))}})</script>"
)
_HEIGHT = re.compile(r'data-lz-height="(\d+)"')


class ScreenshotError(ListonoszError, RuntimeError):
    """Chromium is missing or failed; the message says what to install or what went wrong."""


def find_chromium() -> str | None:
    """The Chromium binary: ``LISTONOSZ_CHROMIUM``, else the first one on ``PATH``."""
    chosen = os.environ.get("LISTONOSZ_CHROMIUM")
    if chosen:
        return shutil.which(chosen) or (chosen if Path(chosen).is_file() else None)
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def _run(binary: str, url: str, *options: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="listonosz-chromium-") as profile:
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            *options,
            url,
        ]
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=_TIMEOUT, check=True
            )
        except FileNotFoundError:
            raise ScreenshotError(f"Chromium not found at {binary}") from None
        except subprocess.TimeoutExpired:
            raise ScreenshotError(f"Chromium took more than {_TIMEOUT} s on {url}") from None
        except subprocess.CalledProcessError as exc:
            tail = exc.stderr.strip().splitlines()[-3:]
            raise ScreenshotError(f"Chromium failed on {url}: {' | '.join(tail)}") from None


def page_height(binary: str, html: str, width: int) -> int:
    """The height in pixels of ``html`` laid out ``width`` pixels wide."""
    with tempfile.TemporaryDirectory(prefix="listonosz-measure-") as folder:
        probe = Path(folder) / "probe.html"
        script = _MEASURE.format(width=width)
        marked = html.replace("</body>", f"{script}</body>", 1)
        probe.write_text(marked if marked != html else html + script, encoding="utf-8")
        # Headless windows are at least 500 px wide; the script sets the width itself.
        result = _run(
            binary,
            probe.as_uri(),
            f"--window-size={max(width, 500)},800",
            "--virtual-time-budget=2000",
            "--dump-dom",
        )
    match = _HEIGHT.search(result.stdout)
    if not match:
        raise ScreenshotError("Chromium did not report the page height")
    return int(match.group(1))


def screenshot(binary: str, page: Path, png: Path, width: int) -> Path:
    """Save a PNG of the HTML file ``page`` as a ``width``-pixel-wide window shows it, whole."""
    height = page_height(binary, page.read_text(encoding="utf-8"), width)
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(
        binary,
        page.resolve().as_uri(),
        f"--window-size={width},{height}",
        f"--screenshot={png.resolve()}",
    )
    if not png.is_file():
        raise ScreenshotError(f"Chromium wrote no screenshot for {page}")
    return png
