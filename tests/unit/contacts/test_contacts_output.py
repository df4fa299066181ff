"""What the merge writes and keeps out: safe CSV, the report, suppression, consent, the CLI."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from listonosz.contacts.csvout import neutralise
from listonosz.contacts.legal import newsletter_audience
from listonosz.contacts.merge import SourceList, merge_lists
from listonosz.contacts.model import Contact, Suppressed
from listonosz.contacts.report import report_rows, write_report
from listonosz.store import SuppressionError, SuppressionList
from tests.conftest import REPO

#: The installation secret these tests key suppression hashes with.
SECRET = b"test installation secret"

ROOT = REPO


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+48 85 123", "'+48 85 123"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "' =1"),
        ("a\r\nb\nc", "a b c"),
        ("Urząd = Gmina", "Urząd = Gmina"),
        ("", ""),
    ],
)
def test_neutralise(value: str, expected: str) -> None:
    assert neutralise(value) == expected


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def test_report_csv(tmp_path: Path) -> None:
    source = tmp_path / "lista.csv"
    source.write_text(
        "E-mail;Imię\n=cmd|' /C calc'!A0;Jan\nola@gmail.con;Ola\nola@gmail.con;Aleksandra\n",
        encoding="utf-8",
    )
    result = merge_lists([SourceList(source, "ngo", "lista.csv")])
    result.suppressed = [Suppressed("x@wp.pl", "hard_bounce")]
    write_report(result, tmp_path / "raport.csv")
    rows = _read(tmp_path / "raport.csv")
    assert rows[0] == ["kind", "source", "row", "column", "value", "detail", "count"]
    kinds = [row[0] for row in rows[1:]]
    assert kinds == [
        "source",
        "group",
        "total",
        "total",
        "total",
        "reject",
        "warning",
        "warning",
        "conflict",
        "suppressed",
    ]
    reject = rows[6]
    assert reject[1:5] == ["lista.csv", "2", "E-mail", "'=cmd|' /C calc'!A0"]  # neutralised
    assert rows[1][1] == "lista.csv" and rows[1][6] == "3"
    assert rows[2][3:7] == ["ngo", "", "organizacje pozarządowe", "1"]
    assert rows[9][1:5] == ["lista.csv", "4", "first_name", "Aleksandra"]
    assert report_rows(result)[-1]["value"] == "x@wp.pl"


def test_suppression_list(store_url: str) -> None:  # on SQLite and on PostgreSQL
    url = store_url
    suppressions = SuppressionList(url, SECRET)
    try:
        suppressions.add(" Jan@WP.pl ", "unsubscribed", "link in the invitation")
        suppressions.add("ewa@wp.pl", "erased", "art. 17 request")
        suppressions.add("ewa@wp.pl", "erased")  # again: still one entry
        with pytest.raises(SuppressionError, match="unknown reason 'bored'"):
            suppressions.add("x@wp.pl", "bored")
        with pytest.raises(SuppressionError, match="not a usable e-mail address"):
            suppressions.add("not an address", "manual")
        entries = {(e.email, e.reason) for e in suppressions.entries()}
        assert entries == {("jan@wp.pl", "unsubscribed"), ("", "erased")}  # no erased address
        audience = [Contact("ala@wp.pl"), Contact("ewa@wp.pl"), Contact("jan@wp.pl")]
        kept, suppressed = suppressions.filter(audience)
        assert [c.email for c in kept] == ["ala@wp.pl"]
        assert suppressed == [
            Suppressed("ewa@wp.pl", "erased"),
            Suppressed("jan@wp.pl", "unsubscribed"),
        ]
        assert suppressions.remove("JAN@wp.pl") is True
        assert suppressions.remove("jan@wp.pl") is False
        assert [c.email for c in suppressions.filter(audience)[0]] == ["ala@wp.pl", "jan@wp.pl"]
    finally:
        suppressions.close()
    reopened = SuppressionList(url, SECRET)  # persistent
    try:
        assert [e.reason for e in reopened.entries()] == ["erased"]
    finally:
        reopened.close()


def test_newsletter_goes_only_to_consent() -> None:
    people = [
        Contact("a@wp.pl", legal_basis="consent"),
        Contact("b@wp.pl", legal_basis="public_task"),
        Contact("c@wp.pl"),
    ]
    assert [c.email for c in newsletter_audience(people)] == ["a@wp.pl"]


def test_legal_basis_default_per_source(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    path.write_text("E-mail,Zgoda\na@wp.pl,\nb@wp.pl,nie\nc@wp.pl,tak\n", encoding="utf-8")
    result = merge_lists([SourceList(path, "ngo", "l", legal_basis="public_task")])
    assert [(c.email, c.legal_basis) for c in result.contacts] == [
        ("a@wp.pl", "public_task"),
        ("b@wp.pl", "public_task"),  # no consent, but invitations are the public task
        ("c@wp.pl", "consent"),
    ]


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LISTONOSZ_"))}
    env.update(LISTONOSZ_VAR_DIR=str(tmp_path / "var"), LISTONOSZ_CONFIG=str(tmp_path / "no.toml"))
    return subprocess.run(
        [sys.executable, "-m", "listonosz.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def test_cli_merge_and_suppress(tmp_path: Path) -> None:
    contacts = ROOT / "contacts"
    added = _cli(
        ["suppress", "add", "HALINA.WROBLEWSKA@wp.pl", "--reason", "unsubscribed"], tmp_path
    )
    assert added.returncode == 0, added.stderr
    listed = _cli(["suppress", "list"], tmp_path)
    assert "halina.wroblewska@wp.pl" in listed.stdout and "1 suppressed" in listed.stdout
    result = _cli(
        [
            "contacts",
            "merge",
            f"{contacts / 'jst.csv'}=jst",
            f"{contacts / 'ngo.xlsx'}=ngo",
            f"{contacts / 'owes.csv'}=owes",
            "--out",
            "merged.csv",
            "--rejects",
            "rejects.csv",
            "--report",
            "report.csv",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = _read(tmp_path / "merged.csv")
    assert rows[0][:9] == [
        "email",
        "first_name",
        "last_name",
        "organisation",
        "position",
        "gender",
        "groups",
        "legal_basis",
        "phone",
    ]
    assert rows[0][-1] == "sources"
    emails = [row[0] for row in rows[1:]]
    assert emails == sorted(emails) and len(emails) == len(set(emails))
    assert "halina.wroblewska@wp.pl" not in emails  # on the suppression list
    lapinski = next(row for row in rows if row[0] == "t.lapinski@gops-zabludow.example.pl")
    assert lapinski[6] == "jst;ngo"
    rejects = _read(tmp_path / "rejects.csv")
    assert [r[:3] for r in rejects] == [
        ["source", "row", "column"],
        [f"{contacts / 'jst.csv'}", "9", "E-mail"],
        [f"{contacts / 'ngo.xlsx'}[Organizacje]", "13", "Adres e-mail"],
    ]
    assert "1 suppressed" in result.stdout
    assert _cli(["suppress", "remove", "halina.wroblewska@wp.pl"], tmp_path).returncode == 0


def test_cli_merge_error_has_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "pusty.csv").write_bytes(b"")
    result = _cli(["contacts", "merge", "pusty.csv=jst", "--out", "m.csv"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: pusty.csv: the file is empty"
    assert not (tmp_path / "m.csv").exists()


def test_cli_merge_passes_legal_basis_and_reading_options_to_every_list(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("E-mail;Zgoda\njan@wp.pl;\nola@wp.pl;tak\n", "cp1250")
    (tmp_path / "b.csv").write_text("E-mail;Zgoda\nadam@wp.pl;\n", "cp1250")
    options = ["--legal-basis", "public_task", "--delimiter", ";", "--encoding", "cp1250"]
    result = _cli(
        ["contacts", "merge", "a.csv=jst", "b.csv", "--group", "ngo", "--out", "m.csv", *options],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = _read(tmp_path / "m.csv")
    basis = {row[0]: (row[6], row[7]) for row in rows[1:]}
    assert basis == {
        "adam@wp.pl": ("ngo", "public_task"),
        "jan@wp.pl": ("jst", "public_task"),
        "ola@wp.pl": ("jst", "consent"),
    }
