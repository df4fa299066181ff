"""``listonosz contacts …`` and ``listonosz suppress …``: quick local jobs on contact lists."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from listonosz.cli.common import fail
from listonosz.errors import ListonoszError

if TYPE_CHECKING:  # imported where used: `listonosz --help` stays quick
    from listonosz.contacts.merge import SourceList
    from listonosz.store import SuppressionList

contacts_app = typer.Typer(help="Merge and check contact lists.", no_args_is_help=True)
suppress_app = typer.Typer(
    help="The suppression list: people never written to again.", no_args_is_help=True
)


def _source(
    spec: str,
    group: str,
    legal_basis: str,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
) -> SourceList:
    """``path`` or ``path=group`` → a SourceList."""
    from listonosz.contacts.groups import STAKEHOLDER_GROUPS
    from listonosz.contacts.merge import SourceList

    path, _, own_group = spec.partition("=")
    chosen = own_group or group
    if chosen and chosen not in STAKEHOLDER_GROUPS:
        known = ", ".join(STAKEHOLDER_GROUPS)
        raise ListonoszError(f"{spec}: unknown stakeholder group {chosen!r}; known: {known}")
    return SourceList(
        Path(path),
        chosen,
        label=path,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        legal_basis=legal_basis,
    )


@contacts_app.command("merge")
def merge(
    paths: Annotated[
        list[str], typer.Argument(help="Contact files (CSV, XLSX, ODS); PATH=GROUP sets a group.")
    ],
    out: Annotated[Path, typer.Option(help="The merged CSV: one row per person.")],
    rejects: Annotated[
        Path | None, typer.Option(help="CSV of the rows left out, with the reason.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="CSV of the whole report (counts, rejects, warnings).")
    ] = None,
    group: Annotated[str, typer.Option(help="Group of files given without =GROUP.")] = "",
    encoding: Annotated[str | None, typer.Option(help="Override encoding detection.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="Override delimiter sniffing.")] = None,
    sheet: Annotated[str | None, typer.Option(help="Read only this sheet of workbooks.")] = None,
    legal_basis: Annotated[
        str, typer.Option(help="consent or public_task, for rows that do not say.")
    ] = "",
    smtputf8: Annotated[bool, typer.Option(help="Accept non-ASCII local parts.")] = False,
    suppression: Annotated[
        bool, typer.Option(help="Leave out people on the suppression list.")
    ] = True,
) -> None:
    """Merge contact lists into one audience; bad rows are reported, never fatal."""
    from listonosz.config import Settings
    from listonosz.contacts.csvout import write_contacts, write_csv
    from listonosz.contacts.legal import LEGAL_BASES
    from listonosz.contacts.merge import merge_lists
    from listonosz.contacts.report import write_report
    from listonosz.store import SuppressionList

    if legal_basis and legal_basis not in LEGAL_BASES:
        raise fail(f"--legal-basis must be one of {', '.join(LEGAL_BASES)}")
    try:
        lists = [_source(spec, group, legal_basis, encoding, delimiter, sheet) for spec in paths]
        result = merge_lists(lists, smtputf8=smtputf8)
    except ListonoszError as exc:
        raise fail(str(exc)) from None
    if suppression:
        settings = Settings()
        suppressions = SuppressionList(settings.resolved_ledger_url, settings.signing_secret())
        try:
            result.contacts, result.suppressed = suppressions.filter(result.contacts)
        finally:
            suppressions.close()
    write_contacts(result.contacts, out)
    if rejects is not None:
        write_csv(
            rejects,
            ("source", "row", "column", "value", "reason"),
            ((r.source, r.row, r.column, r.value, r.reason) for r in result.rejects),
        )
    if report is not None:
        write_report(result, report)
    rows = sum(result.rows_read.values())
    typer.echo(
        f"{len(result.contacts)} people from {rows} rows in {len(paths)} file(s) → {out}; "
        f"{len(result.rejects)} rows left out, {len(result.warnings)} warnings, "
        f"{len(result.conflicts)} conflicts, {len(result.suppressed)} suppressed."
    )
    for reject in result.rejects:
        typer.echo(f"  left out: {reject}")
    for notice in result.warnings:
        typer.echo(f"  warning: {notice}")


@suppress_app.command("add")
def add(
    emails: Annotated[list[str], typer.Argument(help="Addresses to suppress.")],
    reason: Annotated[
        str, typer.Option(help="unsubscribed, hard_bounce, complaint, erased or manual.")
    ] = "manual",
    detail: Annotated[str, typer.Option(help="A note (who asked, when, why).")] = "",
) -> None:
    """Keep these people out of every audience from now on."""
    with _suppressions() as suppressions:
        for email in emails:
            try:
                entry = suppressions.add(email, reason, detail)
            except ListonoszError as exc:
                raise fail(str(exc)) from None
            typer.echo(f"suppressed ({entry.reason}): {entry.email or '(erased)'}")


@suppress_app.command("remove")
def remove(emails: Annotated[list[str], typer.Argument(help="Addresses to allow again.")]) -> None:
    """Lift a suppression (e.g. after a manual mistake)."""
    with _suppressions() as suppressions:
        for email in emails:
            try:
                removed = suppressions.remove(email)
            except ListonoszError as exc:
                raise fail(str(exc)) from None
            typer.echo(f"{'removed' if removed else 'not on the list'}: {email}")


@suppress_app.command("list")
def list_(
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write the list to CSV.")] = None,
) -> None:
    """Show every suppression, newest first."""
    with _suppressions() as suppressions:
        entries = suppressions.entries()
    rows = [
        (e.email or "(erased)", e.reason, e.added_at.strftime("%Y-%m-%d %H:%M"), e.detail)
        for e in entries
    ]
    if csv_out is not None:
        from listonosz.contacts.csvout import write_csv

        write_csv(csv_out, ("email", "reason", "added_at", "detail"), rows)
    for email, reason, added, detail in rows:
        typer.echo(f"{email:<40} {reason:<13} {added}  {detail}".rstrip())
    typer.echo(f"{len(rows)} suppressed")


class _suppressions:
    def __enter__(self) -> SuppressionList:
        from listonosz.config import Settings
        from listonosz.store import SuppressionList

        settings = Settings()
        self.list = SuppressionList(settings.resolved_ledger_url, settings.signing_secret())
        return self.list

    def __exit__(self, *_: object) -> None:
        self.list.close()
