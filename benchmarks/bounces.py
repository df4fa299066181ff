"""Benchmark: bounce processing over IMAP from a real Dovecot, against parsing the same
messages with the email package alone.

N delivery status notifications (a mix of hard, soft, block, delayed and expired, each to the
signed VERP address of a delivery in a SQLite store, the original's headers returned as
Postfix returns them) are appended to a Dovecot mailbox (tests/mailstack.py: Dovecot from a
private configuration on a free loopback port; needs root). Then, in one run:

1. listonosz: ``BounceMailbox.collect``: FETCH ``BODY.PEEK[]`` in batches, classify, record
   each event through the Tracker (matched by VERP, outcome raised, hard bounces suppressed),
   MOVE every message to ``Processed``;
2. baseline: the same bytes, already in memory, parsed with ``email.message_from_bytes``
   (its default, compat32, the faster of its policies; ``policy.default`` shown too), with
   the per-recipient fields of the delivery-status part read: no IMAP, no store, no matching.
3. the check: every message processed, every event recorded, the kinds as generated.

    .venv/bin/python benchmarks/bounces.py                    # 2,000 DSNs
    .venv/bin/python benchmarks/bounces.py --messages 500
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TypeVar

if __package__ in (None, ""):  # run as a script: make `listonosz` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from listonosz.config import BounceMailboxSettings
from listonosz.store import Ledger
from listonosz.tracking import Tracker, mailbox
from listonosz.tracking.mailbox import BounceMailbox
from listonosz.tracking.verp import verp_address
from tests import bouncemail, mailstack

T = TypeVar("T")
TARGET = 200.0  # DSNs a second
SECRET = b"benchmark secret, not used anywhere else"
BOUNCES = "bounces@zwroty.rops.example.pl"
#: (action, status, kind) in the proportions a campaign's bounces come in.
MIX = [
    ("failed", "5.1.1", "hard"),
    ("failed", "5.1.1", "hard"),
    ("failed", "5.1.1", "hard"),
    ("failed", "5.2.2", "soft"),
    ("failed", "5.7.1", "block"),
    ("delayed", "4.2.2", "delayed"),
    ("failed", "4.4.7", "expired"),
]


def _messages(url: str, count: int) -> tuple[list[bytes], Counter[str]]:
    """``count`` DSNs about deliveries claimed in the store at ``url``; the kinds expected."""
    people = [f"osoba.{n}@gmina{n % 97}.example.pl" for n in range(count)]
    with closing(Ledger(url)) as ledger:
        claims = ledger.claim(
            "bench",
            "invitation",
            [(p, "jst", f"<{n}.bench@rops.example>") for n, p in enumerate(people)],
            "bench-run",
            dt.timedelta(hours=1),
        )
    key = {claim.email: claim.key for claim in claims}
    raws, kinds = [], Counter[str]()
    for n, person in enumerate(people):
        action, status, kind = MIX[n % len(MIX)]
        to = verp_address(BOUNCES, key[person], SECRET)
        raws.append(
            bouncemail.dsn(
                to,
                person,
                action=action,
                status=status,
                envelope_id=key[person],
                message_id=f"<{n}.bench@rops.example>",
                return_path=to,
            )
        )
        kinds[kind] += 1
    return raws, kinds


def _baseline(raws: list[bytes], policy: email.policy.Policy) -> tuple[float, int]:
    """Seconds to parse every message with the email package and read its DSN fields."""
    started = time.perf_counter()
    fields = 0
    for raw in raws:
        message = email.message_from_bytes(raw, policy=policy)
        for part in message.walk():
            if part.get_content_type() == "message/delivery-status":
                for block in part.get_payload()[1:]:
                    fields += bool(block["Action"]) + bool(block["Status"])
    return time.perf_counter() - started, fields


def _timed(function: Callable[..., T], name: str, spent: Counter[str]) -> Callable[..., T]:
    """``function``, adding the seconds each call takes to ``spent[name]``."""

    def timed(*args: object, **kwargs: object) -> T:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started

    return timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="DSNs in the mailbox")
    parser.add_argument("--batch", type=int, default=200, help="messages per IMAP FETCH")
    args = parser.parse_args()
    reason = mailstack.missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as scratch, mailstack.mail_root() as root:
        url = f"sqlite:///{Path(scratch) / 'store.sqlite'}"
        raws, expected = _messages(url, args.messages)
        with mailstack.dovecot(root) as server:
            with server.client() as imap:
                for raw in raws:
                    imap.append("INBOX", raw)
            settings = BounceMailboxSettings(
                host="127.0.0.1",
                port=server.port,
                security="plain",
                username=server.user,
                password=server.password,  # type: ignore[arg-type]
                batch_size=args.batch,
            )
            with Tracker(url, SECRET) as tracker:
                spent: Counter[str] = Counter()
                tracker.apply = _timed(tracker.apply, "recording (Tracker.apply)", spent)  # type: ignore[method-assign]
                mailbox.classify = _timed(mailbox.classify, "classifying", spent)
                started = time.perf_counter()
                collected = BounceMailbox(settings, SECRET).collect(tracker)
                ours = time.perf_counter() - started
            processed = server.count("Processed")
        baseline, fields = _baseline(raws, email.policy.compat32)
        modern, _ = _baseline(raws, email.policy.default)

    size = sum(map(len, raws))
    ok = (
        collected.processed == processed == args.messages
        and collected.applied.recorded == args.messages
        and collected.applied.unmatched == 0
        and dict(collected.kinds) == dict(expected)
        and fields == 2 * args.messages
    )
    rate, base_rate = args.messages / ours, args.messages / baseline
    print(
        f"{args.messages} DSNs ({size / args.messages / 1024:.1f} KiB each), FETCH batches of "
        f"{args.batch}; Python {platform.python_version()}, {os.cpu_count()} cores"
    )
    print(f"{'':40}{'DSN/s':>8}{'ms/DSN':>9}")
    modern_rate = args.messages / modern
    print(f"{'email package, parse only (baseline)':40}{base_rate:>8,.0f}{1000 / base_rate:>9.3f}")
    print(f"{'  the same, policy.default':40}{modern_rate:>8,.0f}{1000 / modern_rate:>9.3f}")
    print(f"{'Listonosz over IMAP, recorded, moved':40}{rate:>8,.0f}{1000 / rate:>9.3f}")
    other = ours - sum(spent.values())
    phases = [*sorted(spent.items()), ("IMAP (FETCH, MOVE) and the rest", other)]
    print("where the time went: " + ", ".join(f"{n} {t / ours:.0%}" for n, t in phases))
    print(
        f"check: {'every message processed, recorded and moved' if ok else 'FAILED'} "
        f"({dict(collected.kinds)}, suppressed {dict(collected.applied.suppressed)})"
    )
    verdict = "met" if rate >= TARGET else "MISSED"
    print(
        f"ratio: {rate / base_rate:.2f}x the parse-only baseline; {rate:,.0f} DSN/s "
        f"(target >= {TARGET:.0f}: {verdict})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
