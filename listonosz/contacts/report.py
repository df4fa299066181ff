"""The merge report: counts per source and per group, every reject, warning and conflict;
the same rows serve a CSV file for staff and a Prefect table artifact in a flow."""

from __future__ import annotations

from pathlib import Path

from listonosz.contacts.csvout import write_csv
from listonosz.contacts.groups import group_label
from listonosz.contacts.merge import MergeResult

REPORT_COLUMNS = ("kind", "source", "row", "column", "value", "detail", "count")


def report_rows(result: MergeResult) -> list[dict[str, object]]:
    """One row per source, group, total, reject, warning, conflict and suppressed person (its
    ``kind``); ``count`` is set on the counting rows only."""
    rows: list[dict[str, object]] = []

    def add(kind: str, source: str = "", row: object = "", column: str = "", value: str = "",
            detail: str = "", count: object = "") -> None:  # fmt: skip
        values = (kind, source, row, column, value, detail, count)
        rows.append(dict(zip(REPORT_COLUMNS, values, strict=True)))

    for summary in result.sources:
        detail = f"{summary.details}; {summary.rejected} rejected"
        add("source", summary.label, detail=detail, count=summary.rows)
    for code, count in sorted(result.per_group().items()):
        add("group", column=code, detail=group_label(code), count=count)
    add("total", detail="people in the audience", count=len(result.contacts))
    add("total", detail="rows read", count=sum(result.rows_read.values()))
    add("total", detail="rows rejected", count=len(result.rejects))
    for reject in result.rejects:
        add("reject", reject.source, reject.row, reject.column, reject.value, reject.reason)
    for notice in result.warnings:
        add("warning", notice.source, notice.row or "", notice.column, notice.value, notice.message)
    for conflict in result.conflicts:
        source, _, row = conflict.other_from.rpartition(":")
        detail = f"{conflict.email}: kept {conflict.kept!r} from {conflict.kept_from}"
        add("conflict", source or conflict.other_from, row, conflict.field, conflict.other, detail)
    for suppressed in result.suppressed:
        add("suppressed", column="email", value=suppressed.email, detail=suppressed.reason)
    return rows


def write_report(result: MergeResult, path: Path) -> int:
    """Write :func:`report_rows` as a CSV file (safe to open in a spreadsheet)."""
    rows = report_rows(result)
    return write_csv(path, REPORT_COLUMNS, ([row[c] for c in REPORT_COLUMNS] for row in rows))
