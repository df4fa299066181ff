"""A large merge spread over several processes: the same reading and merging, in shards.

Two rounds in a pool of ``workers`` processes (spawned, not forked: the caller may be a
threaded Prefect worker):

1. each list is read by one worker, which deals its records into buckets by the first
   characters of the address (so all the rows of a person land in one bucket, in the order
   read);
2. consecutive buckets are grouped into shards of about the same size, and each shard is
   merged by one worker, which sends back its people as Contact arguments with the order that
   sorts them by address, and their conflicts.

Records travel packed with :mod:`marshal` (plain tuples of strings and numbers, which it packs
several times faster than pickle) through files in a temporary folder, which is quicker than
pipes for a few hundred megabytes. Packing is quickest soon after records are made, in the
order they lie in memory, so round 1 packs each chunk of rows as soon as it is read and
round 2 packs people in the order first read, not sorted. This process only reports what each
list gave and makes the Contact objects, one shard after another while the workers merge the
rest; buckets sort like their addresses, so the shards only need to be put one after another.
"""

from __future__ import annotations

import itertools
import marshal
import mmap
import multiprocessing
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any, BinaryIO

from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.model import Conflict, Contact
from listonosz.contacts.people import BY_EMAIL, People, sorted_contacts
from listonosz.contacts.records import Caches, Record
from listonosz.contacts.sources import (
    MergeResult,
    SheetOutcome,
    SourceList,
    add_outcomes,
    gc_paused,
    read_source,
)

#: More shards than workers, so that making the Contacts of one overlaps merging the others.
SHARDS_PER_WORKER = 4
#: Records are dealt into buckets by this many first characters of the address: buckets
#: sort like their addresses, and are small enough to be merged quickly (in the CPU caches).
PREFIX = 2

#: Where packed data is: file name (in the spool folder), offset and length.
Piece = tuple[str, int, int]
#: A bucket's records: one piece per chunk of rows read, in the order read.
Bucket = list[Piece]


def merge_in_parallel(lists: list[SourceList], smtputf8: bool, workers: int) -> MergeResult:
    """:func:`~listonosz.contacts.merge.merge_lists` in ``workers`` processes."""
    result = MergeResult([])
    context = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="listonosz-merge-") as folder,
        context.Pool(workers, _start_worker, (smtputf8, folder)) as pool,
        _Spool(Path(folder)) as spool,
    ):
        dealt = _read_lists(pool, lists, result)
        shards = dealt.shards(workers * SHARDS_PER_WORKER)
        merged: list[list[Contact]] = [[] for _ in shards]
        for index, pieces, conflicts in pool.imap_unordered(_merge_shard, dealt.jobs(shards)):
            for rows, order in pieces:
                merged[index] += sorted_contacts(spool.load(rows), spool.load(order))
            result.conflicts.extend(conflicts)
    result.contacts = list(itertools.chain.from_iterable(merged))
    result.conflicts.sort(key=BY_EMAIL)  # stable: a person's conflicts stay in order
    return result


class _Spool:
    """The folder packed data goes through: written piece by piece, read back in place."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.maps: dict[str, mmap.mmap] = {}

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        for mapped in self.maps.values():
            mapped.close()
        self.maps.clear()

    def writer(self, name: str) -> _SpoolFile:
        return _SpoolFile(name, (self.folder / name).open("wb"))

    def load(self, piece: Piece) -> Any:
        """What was packed into ``piece`` (the caller knows what it put there)."""
        name, offset, length = piece
        mapped = self.maps.get(name)
        if mapped is None:
            with (self.folder / name).open("rb") as handle:
                mapped = self.maps[name] = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        with memoryview(mapped) as view:
            return marshal.loads(view[offset : offset + length])


@dataclass
class _SpoolFile:
    """One file of the spool, being written."""

    name: str
    handle: BinaryIO
    offset: int = 0

    def put(self, value: Any) -> Piece:
        """Pack ``value`` into the file; where it is."""
        data = marshal.dumps(value)
        self.handle.write(data)
        piece = (self.name, self.offset, len(data))
        self.offset += len(data)
        return piece

    def close(self) -> None:
        self.handle.close()


@dataclass
class _Dealt:
    """The buckets of every list read so far, by prefix, with their number of records."""

    buckets: dict[str, Bucket] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, buckets: dict[str, Bucket], counts: Counter[str]) -> None:
        for prefix, pieces in buckets.items():
            self.buckets.setdefault(prefix, []).extend(pieces)
        self.counts.update(counts)

    def shards(self, wanted: int) -> list[list[str]]:
        """Up to ``wanted`` runs of prefixes with about as many records each, in order."""
        size = max(1, -(-sum(self.counts.values()) // wanted))
        shards: list[list[str]] = []
        filled = size
        for prefix in sorted(self.buckets):
            if filled >= size:
                shards.append([])
                filled = 0
            shards[-1].append(prefix)
            filled += self.counts[prefix]
        return shards

    def jobs(self, shards: list[list[str]]) -> list[tuple[int, list[Bucket]]]:
        """Each shard's number and buckets, the largest shard first (the others fill in)."""
        jobs = [
            (index, [self.buckets[prefix] for prefix in shard])
            for index, shard in enumerate(shards)
        ]
        sizes = [sum(self.counts[prefix] for prefix in shard) for shard in shards]
        return sorted(jobs, key=lambda job: -sizes[job[0]])


def _read_lists(pool: Pool, lists: list[SourceList], result: MergeResult) -> _Dealt:
    """Round 1: read every list, report what it gave, and collect its buckets."""
    dealt = _Dealt()
    jobs = pool.imap(_read_list, enumerate(lists))
    for source, (outcomes, buckets, counts) in zip(lists, jobs, strict=True):
        add_outcomes(result, source.label or str(source.path), outcomes)
        dealt.add(buckets, counts)
    return dealt


@dataclass
class _Worker:
    """What a worker process keeps between jobs: what it learnt about domains and values."""

    emails: EmailChecker
    caches: Caches
    spool: _Spool


_worker: _Worker | None = None


def _start_worker(smtputf8: bool, folder: str) -> None:
    global _worker
    _worker = _Worker(EmailChecker(smtputf8), Caches(), _Spool(Path(folder)))


def _read_list(
    job: tuple[int, SourceList],
) -> tuple[list[SheetOutcome], dict[str, Bucket], Counter[str]]:
    """Round 1, in a worker: one list read, its records dealt into buckets by prefix and packed
    a chunk at a time; and how many records each bucket has."""
    assert _worker is not None
    number, source = job
    buckets: dict[str, Bucket] = {}
    counts: Counter[str] = Counter()
    spool = _worker.spool.writer(f"list-{number}")

    def take(records: list[Record]) -> None:
        for prefix, part in _deal(records).items():
            buckets.setdefault(prefix, []).append(spool.put(part))
            counts[prefix] += len(part)

    try:
        with gc_paused():
            outcomes = read_source(source, _worker.emails, _worker.caches, take)
    finally:
        spool.close()
    return outcomes, buckets, counts


def _deal(records: list[Record]) -> dict[str, list[Record]]:
    """The records by the prefix of their address."""
    parts: dict[str, list[Record]] = {}
    for record in records:
        prefix = record[0][:PREFIX]
        part = parts.get(prefix)
        if part is None:
            part = parts[prefix] = []
        part.append(record)
    return parts


def _merge_shard(
    job: tuple[int, list[Bucket]],
) -> tuple[int, list[tuple[Piece, Piece]], list[Conflict]]:
    """Round 2, in a worker: the buckets of one shard, each merged into people (as
    :meth:`People.merged` gives them, packed)."""
    assert _worker is not None
    index, buckets = job
    conflicts: list[Conflict] = []
    merged: list[tuple[Piece, Piece]] = []
    spool = _worker.spool
    out = spool.writer(f"shard-{index}")
    try:
        with gc_paused(), spool:
            for bucket in buckets:
                people = People()
                for piece in bucket:
                    people.add(spool.load(piece))
                rows, order = people.merged(conflicts)
                merged.append((out.put(rows), out.put(order)))
    finally:
        out.close()
    return index, merged, conflicts
