"""Benchmark: merging a million contact rows against validating them with email-validator.

Generates N rows (default 1,000,000) in 10 CSV files, mixed encodings (UTF-8, UTF-8 with
BOM, cp1250, ISO-8859-2) and delimiters (, ; tab |), 30 % of people on more than one list and
a few % of invalid addresses of many kinds (``tests.factories.generate``, which the tests use
too). Then, in each round (``--rounds``, default 1):

1. ``listonosz.contacts.merge_lists`` over the files, in one process: a fresh child process,
   so that its peak RSS is its own;
2. baseline, in another fresh child process: ``email_validator.validate_email(addr,
   check_deliverability=False)`` over every row's address in a plain loop (with
   ``allow_smtputf8=False``: the merge's own policy);
3. the verdicts: a row must be rejected for its address by the merge exactly when
   email-validator rejects the address. Any disagreement fails the run (exit status 1).

    .venv/bin/python benchmarks/contacts.py                 # 1,000,000 rows
    .venv/bin/python benchmarks/contacts.py --rows 20000    # a quick look
    .venv/bin/python benchmarks/contacts.py --rounds 3      # the spread on a noisy machine
    .venv/bin/python benchmarks/contacts.py --record        # also add a section to RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TypeVar, cast

if __package__ in (None, ""):  # run as a script: make `listonosz` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from email_validator import EmailNotValidError, validate_email

from listonosz.contacts.merge import SourceList, merge_lists
from tests.factories import EMAIL_COLUMNS, generate

TARGET_RATIO = 5.0
TARGET_RSS_MB = 1024
RESULTS = Path(__file__).with_name("RESULTS.md")
T = TypeVar("T")


def baseline(addresses: list[tuple[str, int, str]]) -> tuple[float, set[tuple[str, int]]]:
    """Validate every address in a plain loop; returns (seconds, rows rejected)."""
    invalid: list[tuple[str, int]] = []
    start = time.perf_counter()
    for label, row, address in addresses:
        try:
            validate_email(address, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError:
            invalid.append((label, row))
    return time.perf_counter() - start, set(invalid)


@dataclass
class MergeRun:
    seconds: float
    peak_rss_mb: float
    people: int
    rows_read: int
    email_rejects: set[tuple[str, int]]
    other_rejects: int
    warnings: int
    conflicts: int


def run_merge(sources: list[SourceList]) -> MergeRun:
    """Merge the lists here; returns the timing, this process's peak RSS and the verdicts."""
    start = time.perf_counter()
    result = merge_lists(sources)
    seconds = time.perf_counter() - start
    return MergeRun(
        seconds,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        len(result.contacts),
        sum(result.rows_read.values()),
        {(r.source, r.row) for r in result.rejects if r.column in EMAIL_COLUMNS},
        sum(1 for r in result.rejects if r.column not in EMAIL_COLUMNS),
        len(result.warnings),
        len(result.conflicts),
    )


def in_child(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` in a freshly spawned process: its peak RSS is its own, and every
    round starts as cold as the first (imports, email-validator's and idna's tables)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(function, args, sender))
    child.start()
    sender.close()
    try:
        outcome = receiver.recv()
    except EOFError:
        outcome = RuntimeError("the benchmark's child process died")
    child.join()
    if isinstance(outcome, BaseException):
        raise outcome
    return cast(T, outcome)


def _child(function: Callable[..., object], args: tuple[object, ...], sender: Connection) -> None:
    try:
        sender.send(function(*args))
    except Exception as exc:  # report it to the parent, which raises it
        sender.send(exc)


WHY_FAST = (
    "How (one process; libraries for the loops): each file is read by pandas' C parser "
    "(`read_csv(dtype=object, na_filter=False)`: every cell as text, blank records kept so "
    "that rows are numbered as a spreadsheet numbers them) after the encoding and delimiter "
    "are detected. The rows of all lists are then one DataFrame, and each column is "
    "factorised once (`pandas.factorize`): each distinct address is checked once, the plain "
    "ones (most) all at once by pyarrow with the fast path's rule in RE2 and email-validator's "
    "verdict on each domain, asked once; the others, and every invalid one, by email-validator "
    "whole. The usable addresses are dictionary-encoded and sorted by Arrow. Names, "
    "organisations and the other columns are cleaned one distinct value at a time and taken "
    "back to every row. The merge by person is DataFrame operations: rows just like an earlier "
    "row of the same person are dropped (`drop_duplicates`), and only the people whose rows "
    "still differ are melted into one row per value, where `drop_duplicates`, `idxmax` and a "
    "`merge` find each field's kept value, its provenance and the values that differ. What "
    "remains is Python making the objects the rest of the core uses: 700,000 `Contact` "
    "dataclasses (not frozen: a frozen one's `__init__` is five times as slow) and their "
    "`file:row` sources, with the cyclic garbage collector paused meanwhile.\n"
)


def _record(text: str) -> None:
    """Add a dated section at the end of RESULTS.md, keeping the others."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    RESULTS.write_text(old.rstrip("\n") + "\n\n" + text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--rounds", type=int, default=1, help="merge and baseline, N times")
    parser.add_argument("--record", action="store_true", help="add a section to RESULTS.md")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args(argv)

    runs: list[tuple[MergeRun, float, set[tuple[str, int]]]] = []
    with tempfile.TemporaryDirectory(prefix="listonosz-bench-") as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        data = generate(directory, args.rows, args.seed)
        size = sum(f.path.stat().st_size for f in data.files) / 2**20
        print(
            f"generated {len(data.addresses):,} rows, {data.people:,} people "
            f"({data.on_several_lists / data.people:.0%} on several lists), {len(data.files)} "
            f"files, {size:.0f} MB in {time.perf_counter() - started:.1f} s"
        )
        for f in data.files:
            print(f"  {f.label:<14} {f.encoding:<11} {f.delimiter!r}")
        for number in range(1, args.rounds + 1):
            runs.append((in_child(run_merge, data.sources()), *in_child(baseline, data.addresses)))
            merged, base_seconds, _ = runs[-1]
            if args.rounds > 1:
                print(
                    f"round {number}: merge {merged.seconds:.2f} s, peak RSS "
                    f"{merged.peak_rss_mb:,.0f} MB; baseline {base_seconds:.2f} s; "
                    f"{base_seconds / merged.seconds:.1f}x"
                )

    rows = len(data.addresses)
    ratios = sorted(base / merged.seconds for merged, base, _ in runs)
    ratio = statistics.median(ratios)
    peak = max(merged.peak_rss_mb for merged, _, _ in runs)
    merged, base_seconds, base_invalid = runs[-1]
    agree = all(merged.email_rejects == invalid for merged, _, invalid in runs)
    spread = f" (rounds: {', '.join(f'{r:.1f}' for r in ratios)})" if len(runs) > 1 else ""
    lines = [
        f"merge:    {merged.seconds:.2f} s, {rows / merged.seconds:,.0f} rows/s "
        f"(one process), peak RSS {merged.peak_rss_mb:,.0f} MB; {merged.people:,} people, "
        f"{len(merged.email_rejects):,} rows rejected for the address, "
        f"{merged.warnings:,} warnings, {merged.conflicts:,} conflicts",
        f"baseline: {base_seconds:.2f} s, {rows / base_seconds:,.0f} rows/s "
        "(email-validator, plain loop)",
        "verdicts: "
        + (f"the same as email-validator for all {rows:,} rows" if agree else "DIFFERENT"),
        f"ratio:    {ratio:.1f}x the baseline{spread} (target >= {TARGET_RATIO:.0f}x: "
        f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}); peak RSS target <= "
        f"{TARGET_RSS_MB} MB: {'met' if peak <= TARGET_RSS_MB else 'MISSED'}",
    ]
    # The summary comes last, after any failure detail or note: it is what one reads.
    if not agree:
        only_merge = sorted(merged.email_rejects - base_invalid)[:10]
        only_base = sorted(base_invalid - merged.email_rejects)[:10]
        by_place = {(label, row): address for label, row, address in data.addresses}
        print("FAIL: the merge and email-validator disagree", file=sys.stderr)
        for place in only_merge:
            print(f"  rejected by the merge only: {place} {by_place[place]!r}", file=sys.stderr)
        for place in only_base:
            print(
                f"  rejected by email-validator only: {place} {by_place[place]!r}", file=sys.stderr
            )
    elif args.record:
        _record(
            f"## Contacts on pandas, {dt.date.today().isoformat()}\n\n"
            f"`.venv/bin/python benchmarks/contacts.py --rows {rows} --rounds {args.rounds} "
            "--record`\n\n"
            f"{rows:,} rows in {len(data.files)} CSV files ({size:.0f} MB; UTF-8, UTF-8 with BOM, "
            "cp1250, ISO-8859-2; `,` `;` tab `|`), "
            f"{data.people:,} people, {data.on_several_lists / data.people:.0%} of them on "
            "several lists, about 3 % invalid addresses of 30 kinds.\n\n"
            "```\n" + "\n".join(lines) + "\n```\n\n"
            f"Machine: {platform.python_implementation()} {platform.python_version()}, "
            f"{platform.machine()}, {os.cpu_count()} cores (shared with other work: expect "
            "noise). Each round merges in a spawned child process, `merge_lists(lists)` "
            "(peak RSS: the child's `ru_maxrss`), then the baseline in another; the "
            "ratio is the median of the rounds', each against the baseline of its own round. "
            "The baseline calls `validate_email(addr, check_deliverability=False, "
            "allow_smtputf8=False)`: the same rules as the merge (SMTPUTF8 off by default).\n\n"
            + WHY_FAST
        )
        print(f"recorded in {RESULTS}")
    sys.stderr.flush()
    print("\n".join(lines))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
