"""The campaign-report flow: what happened after sending, published as Prefect artifacts
(a table per stakeholder group and per mailbox provider) beside the workbook and chart."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact

from flows.campaign import artifact_key
from listonosz.campaign import open_campaign
from listonosz.config import Settings
from listonosz.reports import delivery_frame, for_staff, summary, write_chart, write_xlsx
from listonosz.store import Ledger


@flow(name="campaign-report")
def report_campaign(campaign_path: str, message: str = "invitation") -> dict[str, Any]:
    """Count deliveries, bounces, complaints, unsubscribes and answers of one message kind per
    group and per mailbox provider; publish both tables, and write them with a chart under
    var/reports/.

    Args:
        campaign_path: The campaign file, in the project's campaigns/ folder.
        message: The message kind, as declared in the campaign.
    """
    settings = Settings()
    campaign = open_campaign(campaign_path, settings)
    campaign.message(message)
    with Ledger(settings.resolved_ledger_url) as store:
        frame = delivery_frame(
            store.engine, campaign.id, message, frozenset({campaign.sender.domain})
        )
    tables = {by: summary(frame, by) for by in ("group", "provider")}
    shown = {by: for_staff(table) for by, table in tables.items()}
    for by, table in shown.items():
        flat = table.reset_index().astype(str)
        rows = [{str(k): v for k, v in row.items()} for row in flat.to_dict(orient="records")]
        per = "stakeholder group" if by == "group" else "mailbox provider"
        create_table_artifact(
            table=rows,
            key=artifact_key(campaign.id, message, "tracking", by),
            description=f"After sending, per {per}.",
        )
    folder = settings.var_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    workbook = folder / f"{campaign.id}-{message}-tracking.xlsx"
    chart = folder / f"{campaign.id}-{message}-tracking.png"
    write_xlsx({"Grupy": shown["group"], "Dostawcy poczty": shown["provider"]}, workbook)
    write_chart(tables["group"], f"{campaign.event.title}: {message}, według grup", chart)
    total = tables["group"].loc["Razem"].to_dict()
    return {
        "sent": int(total["sent"]),
        "delivered": int(total["delivered"]),
        "complaint_flag": str(total["complaint_flag"]),
        "workbook": str(workbook),
        "chart": str(chart),
    }
