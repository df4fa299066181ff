"""Benchmark: merging a million contact rows against validating them with email-validator.

Generates N rows (default 1,000,000) in 10 CSV files, mixed encodings (UTF-8, UTF-8 with
BOM, cp1250, ISO-8859-2) and delimiters (, ; tab |), 30 % of people on more than one list and
a few % of invalid addresses of many kinds (``tests.factories.generate``, which the tests use
too). Then, in one run:

1. baseline: ``email_validator.validate_email(addr, check_deliverability=False)`` over every
   row's address in a plain loop (with ``allow_smtputf8=False``: the merge's own policy);
2. ``listonosz.contacts.merge_lists`` over the files with ``workers=2`` (``--workers``), in a
   fresh child process so that its peak RSS is its own;
3. the verdicts: a row must be rejected for its address by the merge exactly when
   email-validator rejects the address. Any disagreement fails the run (exit status 1).

    .venv/bin/python benchmarks/contacts.py                 # 1,000,000 rows
    .venv/bin/python benchmarks/contacts.py --rows 20000    # a quick look
    .venv/bin/python benchmarks/contacts.py --record        # also update RESULTS.md
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `listonosz` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from email_validator import EmailNotValidError, validate_email

from listonosz.contacts.merge import SourceList, merge_lists
from tests.factories import EMAIL_COLUMNS, generate

TARGET_RATIO = 5.0
TARGET_RSS_MB = 2048
#: Worker processes of the merge (``merge_lists(workers=...)``): a fixed number, not the core
#: count of whatever machine runs it, so that results compare; the machine the results were
#: recorded on has two cores.
WORKERS = 2
RESULTS = Path(__file__).with_name("RESULTS.md")


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


def run_merge(sources: list[SourceList], workers: int = 1) -> MergeRun:
    """Merge the lists here; returns the timing, peak RSS and the verdicts.

    The peak RSS is this process's plus, for each worker process, that of the largest one: an
    upper bound of the merge's processes together, which run at the same time.
    """
    start = time.perf_counter()
    result = merge_lists(sources, workers=workers)
    seconds = time.perf_counter() - start
    largest_worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if workers > 1 else 0
    return MergeRun(
        seconds,
        (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + workers * largest_worker) / 1024,
        len(result.contacts),
        sum(result.rows_read.values()),
        {(r.source, r.row) for r in result.rejects if r.column in EMAIL_COLUMNS},
        sum(1 for r in result.rejects if r.column not in EMAIL_COLUMNS),
        len(result.warnings),
        len(result.conflicts),
    )


def run_merge_in_child(sources: list[SourceList], workers: int) -> MergeRun:
    """:func:`run_merge` in a freshly spawned process, so its peak RSS is the merge's alone."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sources, workers, sender))
    child.start()
    sender.close()
    try:
        outcome = receiver.recv()
    except EOFError:
        outcome = RuntimeError("the merge process died")
    child.join()
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _child(sources: list[SourceList], workers: int, sender: Connection) -> None:
    try:
        sender.send(run_merge(sources, workers))
    except Exception as exc:  # report it to the parent, which raises it
        sender.send(exc)


WHY_FAST = (
    "What makes it fast (the same work and results as before, with less Python per row, "
    "spread over processes): each list is read by a worker in chunks of 4,096 rows handled a "
    "column at a time with built-ins that loop in C; each distinct name, organisation or "
    "position is cleaned once (cached, and interned); each address is checked with one "
    "regular expression and a cache of email-validator's verdict on its domain, and only "
    "addresses that are not plain go to email-validator whole. The worker deals its records "
    "into buckets by the first two characters of the address and packs each chunk's share "
    "with `marshal` at once (several times faster than pickle, and fastest while the "
    "records are still in the CPU cache) into files in a temporary folder (about 230 MB "
    "here, freed at the end; page cache, not in the RSS figure). Buckets, which sort like "
    "their addresses, are grouped into shards of similar size, each merged by a worker "
    "bucket by bucket (small enough to stay in the CPU caches) and sent back in the order "
    "first read with the order that sorts it. The merging process makes the Contact objects "
    "shard by shard while the workers merge the rest, with a constructor that fills the "
    "slots directly (twice as fast as the frozen dataclass's `__init__`; the same objects), "
    "and puts the shards one after another. Garbage collection stays off while the objects "
    "are made; afterwards they go straight to the oldest generation (`gc.freeze()` + "
    "`gc.unfreeze()`) instead of being walked by the next young collection (0.5 s). Two "
    "workers because the machine has two cores: in a run here, three took 4.0 s and one "
    "(the single-process path campaigns use, `workers=1`) 5.8 s.\n"
)


def _record(text: str) -> None:
    """Replace (or add) the "## Contacts" section of RESULTS.md, keeping the others."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    section = re.compile(r"^## Contacts\n.*?(?=^## |\Z)", re.S | re.M)
    if section.search(old):
        new = section.sub(lambda _: text.rstrip("\n") + "\n\n", old).rstrip("\n") + "\n"
    else:
        new = old.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--record", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help=f"worker processes of the merge ({WORKERS})"
    )
    args = parser.parse_args(argv)

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
        merged = run_merge_in_child(data.sources(), args.workers)
        base_seconds, base_invalid = baseline(data.addresses)

    rows = len(data.addresses)
    ratio = base_seconds / merged.seconds
    agree = merged.email_rejects == base_invalid
    lines = [
        f"merge:    {merged.seconds:.2f} s, {rows / merged.seconds:,.0f} rows/s "
        f"(workers={args.workers}), peak RSS {merged.peak_rss_mb:,.0f} MB; "
        f"{merged.people:,} people, "
        f"{len(merged.email_rejects):,} rows rejected for the address, "
        f"{merged.warnings:,} warnings, {merged.conflicts:,} conflicts",
        f"baseline: {base_seconds:.2f} s, {rows / base_seconds:,.0f} rows/s "
        "(email-validator, plain loop)",
        "verdicts: "
        + (f"the same as email-validator for all {rows:,} rows" if agree else "DIFFERENT"),
        f"ratio:    {ratio:.1f}x the baseline (target >= {TARGET_RATIO:.0f}x: "
        f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}); peak RSS target <= "
        f"{TARGET_RSS_MB} MB: {'met' if merged.peak_rss_mb <= TARGET_RSS_MB else 'MISSED'}",
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
            "## Contacts\n\n"
            f"`.venv/bin/python benchmarks/contacts.py --rows {rows} --workers {args.workers} "
            "--record`\n\n"
            f"{rows:,} rows in {len(data.files)} CSV files ({size:.0f} MB; UTF-8, UTF-8 with BOM, "
            "cp1250, ISO-8859-2; `,` `;` tab `|`), "
            f"{data.people:,} people, {data.on_several_lists / data.people:.0%} of them on "
            "several lists, about 3 % invalid addresses of 30 kinds.\n\n"
            "```\n" + "\n".join(lines) + "\n```\n\n"
            f"Machine: {platform.python_implementation()} {platform.python_version()}, "
            f"{platform.machine()}, {os.cpu_count()} cores (shared with other work: expect "
            "noise). The merge runs in a spawned child process as "
            f"`merge_lists(lists, workers={args.workers})`: {args.workers} worker processes, "
            "and the child itself, which makes the Contact objects (peak RSS: `ru_maxrss` of "
            "the child plus, for each worker, that of the largest worker: an upper bound); "
            "the baseline runs in the parent afterwards. The baseline calls "
            "`validate_email(addr, check_deliverability=False, allow_smtputf8=False)`: the "
            "same rules as the merge (SMTPUTF8 off by default).\n\n" + WHY_FAST
        )
        print(f"recorded in {RESULTS}")
    sys.stderr.flush()
    print("\n".join(lines))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
