"""``listonosz preview``: render a message kind for the audience into files, without sending."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from listonosz.cli.common import fail
from listonosz.errors import ListonoszError


def preview(
    campaign: Annotated[Path, typer.Argument(help="The campaign file, e.g. campaigns/x.yaml.")],
    message: Annotated[
        str, typer.Option(help="Which message kind of the campaign.")
    ] = "invitation",
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N recipients.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the files and index.html.")] = Path(
        "preview"
    ),
    screenshots: Annotated[
        bool, typer.Option(help="Also PNG screenshots at 600 and 375 px (needs Chromium).")
    ] = False,
) -> None:
    """Write each recipient's message (.html, .txt, .eml) and an index.html gallery."""
    from listonosz.campaign import open_campaign
    from listonosz.config import Settings
    from listonosz.render.preflight import preflight
    from listonosz.render.preview import write_previews
    from listonosz.render.screenshot import ScreenshotError, find_chromium
    from listonosz.sending import merge_audience

    chromium = None
    if screenshots:
        chromium = find_chromium()
        if chromium is None:
            raise fail(
                "--screenshots needs Chromium: install it (Debian: apt-get install chromium) "
                "or set LISTONOSZ_CHROMIUM to its path"
            )
    try:
        spec = open_campaign(campaign, Settings())
        spec.message(message)
        audience = merge_audience(spec).contacts
        recipients = audience[:limit] if limit else audience
        report = preflight(spec, message, recipients)
        items = write_previews(
            spec, message, recipients, out, chromium=chromium, progress=typer.echo
        )
    except (ListonoszError, ScreenshotError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write the preview into {out}: {exc.strerror or exc}") from None
    typer.echo(
        f"{len(items)} of {len(audience)} recipients rendered ({message}; CSS inlined "
        f"{report.inlining}). Open {out / 'index.html'}"
    )
