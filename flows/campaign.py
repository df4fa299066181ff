"""The ``send-campaign`` flow: merge contacts, plan, send one batch per task, report.

The flow reads like the job's table of contents; the work is in ``listonosz``. Parameters
carry no secrets: settings (SMTP passwords, token secret) come from the worker's environment.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.task_runners import ThreadPoolTaskRunner

from listonosz.campaign import Campaign, load_campaign
from listonosz.config import Settings
from listonosz.contacts.merge import MergeResult
from listonosz.contacts.model import Contact
from listonosz.ledger import Ledger
from listonosz.pipeline import BatchReport, BatchSender, Plan, merge_audience, plan_delivery
from listonosz.report import SendReport, build_report
from listonosz.transports import make_transport


@task(name="merge-contacts", cache_policy=NONE)
def merge_contacts(campaign: Campaign) -> MergeResult:
    merged = merge_audience(campaign)
    logger = get_run_logger()
    logger.info(
        "Audience: %d people from %d rows", len(merged.contacts), sum(merged.rows_read.values())
    )
    if merged.rejects:
        logger.warning(
            "%d rows left out of the audience (listed in the report)", len(merged.rejects)
        )
    return merged


@task(name="plan", cache_policy=NONE)
def plan(campaign: Campaign, kind: str, merged: MergeResult, settings: Settings) -> Plan:
    """Who gets the message now; checks the transport before anything is claimed."""
    ledger = Ledger(settings.resolved_ledger_url)
    try:
        result = plan_delivery(campaign, kind, merged.contacts, ledger)
    finally:
        ledger.close()
    if result.recipients:
        make_transport(settings.transport_settings(campaign.transport)).check()
    get_run_logger().info(
        "%d to send, %d already settled", len(result.recipients), result.already_settled
    )
    return result


@task(name="send-batch", cache_policy=NONE, task_run_name="send-batch-{number}")
def send_batch(
    campaign: Campaign,
    kind: str,
    batch: list[Contact],
    settings: Settings,
    run_id: str,
    number: int,
) -> BatchReport:
    ledger = Ledger(settings.resolved_ledger_url)
    try:
        sender = BatchSender(
            campaign, kind, settings, ledger, campaign.templates_dir, run_id=run_id
        )
        return sender.send(batch)
    finally:
        ledger.close()


@task(name="report", cache_policy=NONE)
def report(
    merged: MergeResult, planned: Plan, batches: list[BatchReport], settings: Settings
) -> SendReport:
    ledger = Ledger(settings.resolved_ledger_url)
    try:
        result = build_report(merged, planned, batches, ledger)
    finally:
        ledger.close()
    key = f"{planned.campaign_id}-{planned.kind}".lower().replace("_", "-").replace(".", "-")
    create_table_artifact(
        table=result.groups, key=key, description=f"# {key}\n\nPer stakeholder group."
    )
    create_markdown_artifact(markdown=f"```\n{result.summary()}\n```", key=f"{key}-summary")
    return result


@flow(name="send-campaign", task_runner=ThreadPoolTaskRunner(max_workers=4))
def send_campaign(
    campaign_path: str,
    message: str = "invitation",
    batch_size: int | None = None,
    transport: str | None = None,
) -> dict[str, Any]:
    """Send one message kind of a campaign to everyone in its audience who has not had it.

    Args:
        campaign_path: The campaign file, relative to the project directory.
        message: The message kind to send, as declared in the campaign (e.g. invitation).
        batch_size: Recipients per task; the settings' batch_size when empty.
        transport: A transport named in listonosz.toml; the campaign's or the default when empty.
    """
    settings = Settings()
    campaign = load_campaign(Path(campaign_path))
    if transport:
        campaign = campaign.model_copy(update={"transport": transport})
    merged = merge_contacts(campaign)
    planned = plan(campaign, message, merged, settings)
    run_id = uuid.uuid4().hex
    futures = [
        send_batch.submit(campaign, message, batch, settings, run_id, number)
        for number, batch in enumerate(planned.batches(batch_size or settings.batch_size), 1)
    ]
    outcome = report(merged, planned, [future.result() for future in futures], settings)
    get_run_logger().info(
        "Sent %d, already settled %d", outcome.this_run.get("sent", 0), outcome.already_sent
    )
    return {
        "summary": outcome.summary(),
        "sent": outcome.this_run.get("sent", 0),
        "nothing_to_send": outcome.nothing_to_send,
    }
