"""Benchmark: personalised messages per second, CSS inlined once against premailer per message.

For every message kind of the sample campaign and every sample recipient (86 people), in one
run and on the same renderer:

1. listonosz: ``MessageRenderer.render`` (subject, HTML whose CSS was inlined once when the
   template was compiled, text part; for a kind without a text template, the text planned once
   from the HTML template);
2. baseline: ``MessageRenderer.render_per_message``: the same Jinja templates rendered, then
   premailer run on each rendered HTML (the text part from the text template, or made from
   that HTML);
3. the check: both give byte-identical subject, HTML and text for every message. Any
   difference fails the run (exit status 1).

Each recipient has personal signed links (unsubscribe, RSVP yes/no), as when sending.

    .venv/bin/python benchmarks/render.py              # 5 rounds over the audience
    .venv/bin/python benchmarks/render.py --record     # also update RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `listonosz` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from listonosz.campaign import load_campaign
from listonosz.contacts.model import Contact
from listonosz.mail import rsvp_url, unsubscribe_url
from listonosz.render.environment import Links, MessageRenderer, RenderedMessage
from listonosz.sending import merge_audience

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = ROOT / "campaigns" / "ekonomia-spoleczna-2016.yaml"
RESULTS = Path(__file__).with_name("RESULTS.md")
TARGET_RATIO = 15.0
SECRET = b"benchmark secret, not used anywhere else"


@dataclass
class KindResult:
    kind: str
    messages: int
    compile_ms: float
    fast_seconds: float
    slow_seconds: float
    identical: bool
    inlining: str

    @property
    def ratio(self) -> float:
        return self.slow_seconds / self.fast_seconds


def _links(campaign_id: str, kind: str, contact: Contact) -> Links:
    key = f"{campaign_id}:{kind}:{contact.email}"
    base = "https://listonosz.example"
    return Links(
        unsubscribe=unsubscribe_url(base, SECRET, key),
        rsvp_yes=rsvp_url(base, SECRET, key, "yes"),
        rsvp_no=rsvp_url(base, SECRET, key, "no"),
    )


def _time(render, jobs: list[tuple[Contact, Links]], rounds: int) -> tuple[float, list]:
    out: list[RenderedMessage] = []
    started = time.perf_counter()
    for _ in range(rounds):
        out = [render(contact, links) for contact, links in jobs]
    return time.perf_counter() - started, out


def run_kind(campaign, kind: str, audience: list[Contact], rounds: int) -> KindResult:
    started = time.perf_counter()
    renderer = MessageRenderer(campaign, kind, campaign.templates_dir)
    compile_ms = (time.perf_counter() - started) * 1000
    jobs = [(contact, _links(campaign.id, kind, contact)) for contact in audience]
    renderer.render(*jobs[0])  # warm caches (date formats, wrapping) for both paths alike
    renderer.render_per_message(*jobs[0])
    fast_seconds, fast = _time(renderer.render, jobs, rounds)
    slow_seconds, slow = _time(renderer.render_per_message, jobs, rounds)
    identical = fast == slow
    if not identical:
        for (contact, _), a, b in zip(jobs, fast, slow, strict=True):
            if a != b:
                part = next(
                    p for p in ("subject", "html", "text") if getattr(a, p) != getattr(b, p)
                )
                print(f"FAIL: {kind} for {contact.email}: the {part} differs", file=sys.stderr)
    return KindResult(
        kind,
        len(jobs) * rounds,
        compile_ms,
        fast_seconds,
        slow_seconds,
        identical,
        renderer.inline_note,
    )


def _record(text: str) -> None:
    """Replace (or add) the "## Render" section of RESULTS.md, keeping the others."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    section = re.compile(r"^## Render\n.*?(?=^## |\Z)", re.S | re.M)
    if section.search(old):
        new = section.sub(lambda _: text, old)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the audience")
    parser.add_argument("--record", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    campaign = load_campaign(CAMPAIGN)
    audience = merge_audience(campaign).contacts
    results = [run_kind(campaign, kind, audience, args.rounds) for kind in campaign.messages]

    lines = [
        f"{'kind':<14}{'messages':>9}{'inlined once':>16}{'premailer each':>16}{'ratio':>8}"
        f"{'compile':>10}  output",
    ]
    for r in results:
        lines.append(
            f"{r.kind:<14}{r.messages:>9}{r.messages / r.fast_seconds:>12,.0f} m/s"
            f"{r.messages / r.slow_seconds:>12,.0f} m/s{r.ratio:>7.1f}x{r.compile_ms:>7.0f} ms  "
            f"{'identical' if r.identical else 'DIFFERENT'}"
        )
    total = sum(r.messages for r in results)
    fast = sum(r.fast_seconds for r in results)
    slow = sum(r.slow_seconds for r in results)
    worst = min(r.ratio for r in results)
    lines.append(
        f"{'all kinds':<14}{total:>9}{total / fast:>12,.0f} m/s{total / slow:>12,.0f} m/s"
        f"{slow / fast:>7.1f}x"
    )
    identical = all(r.identical for r in results)
    output = f"byte-identical for all {total:,} messages" if identical else "DIFFERENT"
    met = "met" if worst >= TARGET_RATIO else "MISSED"
    verdict = (
        f"target >= {TARGET_RATIO:.0f}x for every kind: {met} (lowest {worst:.1f}x); "
        f"output: {output}"
    )
    lines.append(verdict)
    if identical and args.record:
        _record(
            "## Render\n\n"
            f"`.venv/bin/python benchmarks/render.py --rounds {args.rounds} --record`\n\n"
            f"Every message kind of the sample campaign for each of its {len(audience)} "
            f"recipients, {args.rounds} rounds; personal signed links in every message. "
            "A message is its subject, its HTML with CSS inlined and its text part. "
            "“inlined once”: `MessageRenderer.render` (premailer ran once, on the template, "
            "in “compile”); “premailer each”: the same templates rendered and premailer run on "
            "each message (`render_per_message`). Both outputs are compared byte for byte.\n\n"
            "```\n" + "\n".join(lines) + "\n```\n\n"
            f"Machine: {platform.python_implementation()} {platform.python_version()}, "
            f"{platform.machine()}, {os.cpu_count()} cores, one process. "
            "`we_missed_you` and `newsletter` have no text template: “inlined once” writes their "
            "text from a plan made once from the HTML template, “premailer each” makes it from "
            "each message's HTML (`html_to_text`); those texts are compared byte for byte too.\n"
        )
        print(f"recorded in {RESULTS}")
    sys.stderr.flush()  # any FAIL lines first: the summary comes last
    print("\n".join(lines))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
