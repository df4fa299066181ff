"""The ``collect-bounces`` flow: read the bounce mailbox, record what it says, report.

Deployed with a schedule (every 10 minutes, see prefect.yaml). The mailbox's settings and
password come from the worker's environment (``LISTONOSZ_BOUNCES__…``), never from parameters.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from listonosz.config import Settings
from listonosz.tracking import Collected, read_bounce_mailbox


@task(name="read-bounce-mailbox", cache_policy=NONE)
def read_mailbox(settings: Settings) -> Collected:
    """One pass over the mailbox: each message recorded once, then moved out of the way."""
    return read_bounce_mailbox(settings)


@flow(name="collect-bounces")
def collect_bounces() -> dict[str, Any]:
    """Turn the bounces, complaints and auto-replies in the bounce mailbox into events and
    suppressions. Safe to run at any time and as often as wanted: each message counts once.

    Without a bounce mailbox in the settings (an installation that sends through a mail API
    only) there is nothing to do, and the run says so.
    """
    settings = Settings()
    logger = get_run_logger()
    if settings.bounces is None:
        logger.warning(
            "No bounce mailbox is configured (LISTONOSZ_BOUNCES__HOST, __USERNAME, "
            "__PASSWORD): nothing to collect"
        )
        return {"configured": False}
    collected = read_mailbox(settings)
    summary = collected.summary()
    logger.info("%s", summary)
    for alert in collected.applied.alerts:
        logger.warning("%s", alert)
    create_markdown_artifact(
        markdown=f"```\n{summary}\n```", key="bounce-mailbox", description="The last pass."
    )
    return {
        "configured": True,
        "kinds": dict(collected.kinds),
        "processed": collected.processed,
        "unrecognised": collected.unrecognised,
        "recorded": collected.applied.recorded,
        "duplicates": collected.applied.duplicates,
        "suppressed": dict(collected.applied.suppressed),
        "alerts": list(collected.applied.alerts),
    }
