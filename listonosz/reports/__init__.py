"""Reports for staff and funders: what happened to a campaign's messages per stakeholder
group and per mailbox provider, as tables (CSV/XLSX) and a chart."""

from listonosz.reports.output import write_chart, write_xlsx
from listonosz.reports.providers import OTHER, OWN, PROVIDERS, provider_of
from listonosz.reports.tracking import (
    COLUMNS,
    LIMIT_RATE,
    WARN_RATE,
    By,
    delivery_frame,
    for_staff,
    summary,
)

__all__ = [
    "COLUMNS",
    "LIMIT_RATE",
    "OTHER",
    "OWN",
    "PROVIDERS",
    "WARN_RATE",
    "By",
    "delivery_frame",
    "for_staff",
    "provider_of",
    "summary",
    "write_chart",
    "write_xlsx",
]
