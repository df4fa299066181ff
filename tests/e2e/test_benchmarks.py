"""The benchmarks run as a fresh clone runs them (``python benchmarks/NAME.py`` from the repo
root), small, and each ends with its ratio lines; tests never import benchmarks."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests import mailstack
from tests.conftest import REPO, PostgresServer, unavailable


def _bench(*args: str, timeout: float = 600, **env_more: str) -> subprocess.CompletedProcess[str]:
    """Run a benchmark script as a person would: no PYTHONPATH, from the repo root."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | env_more
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _last_lines(output: str, count: int) -> list[str]:
    return output.rstrip("\n").splitlines()[-count:]


def test_tests_never_import_benchmarks() -> None:
    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(REPO)}:{node.lineno}: {name}"
                for name in names
                if name.split(".")[0] == "benchmarks"
            ]
    assert offenders == [], "tests import from benchmarks/ (use tests/factories.py):\n" + "\n".join(
        offenders
    )


@pytest.mark.slow
def test_the_contacts_benchmark_ends_with_its_ratio() -> None:
    run = _bench("benchmarks/contacts.py", "--rows", "2000")
    assert run.returncode == 0, run.stderr[-3000:]
    verdicts, ratio = _last_lines(run.stdout, 2)
    assert verdicts == "verdicts: the same as email-validator for all 2,000 rows"
    assert ratio.startswith("ratio:    ") and "x the baseline (target >= 5x: " in ratio


@pytest.mark.slow
def test_the_bounces_benchmark_ends_with_its_ratio() -> None:
    reason = mailstack.missing()
    if reason:
        unavailable(reason)
    run = _bench("benchmarks/bounces.py", "--messages", "100", "--batch", "30")
    assert run.returncode == 0, run.stderr[-3000:]
    check, ratio = _last_lines(run.stdout, 2)
    assert check.startswith("check: every message processed, recorded and moved")
    assert ratio.startswith("ratio: ") and "DSN/s (target >= 200: " in ratio


@pytest.mark.slow
def test_the_render_benchmark_ends_with_its_ratios() -> None:
    run = _bench("benchmarks/render.py", "--rounds", "1")
    assert run.returncode == 0, run.stderr[-3000:]
    *kinds, total, verdict = _last_lines(run.stdout, 9)
    assert [line.split()[0] for line in kinds] == [
        "invitation",
        "reminder",
        "thank_you",
        "we_missed_you",
        "update",
        "cancellation",
        "newsletter",
    ]
    assert total.startswith("all kinds") and total.endswith("x")
    assert verdict.startswith("target >= 15x for every kind: ")
    assert verdict.endswith("output: byte-identical for all 602 messages")


def test_the_send_benchmark_says_at_once_how_to_install_prefect_email() -> None:
    # As on a fresh clone without the bench extra: prefect-email cannot be imported.
    hide = (
        "import runpy, sys; sys.modules['prefect_email'] = None; "
        "sys.argv = ['benchmarks/send.py', '--recipients', '50']; "
        "runpy.run_path('benchmarks/send.py', run_name='__main__')"
    )
    run = _bench("-c", hide, timeout=120)
    assert run.returncode == 2
    assert "prefect-email (the per-recipient baseline) is not installed" in run.stderr
    assert "make bench" in run.stderr and "--prefect-email 0" in run.stderr
    assert run.stdout == ""


@pytest.mark.slow
def test_the_smtp_send_benchmark_ends_with_its_ratios() -> None:
    run = _bench("benchmarks/send.py", "--recipients", "300", "--prefect-email", "0")
    assert run.returncode == 0, run.stderr[-3000:]
    header, raw, flow = _last_lines(run.stdout, 3)
    assert header.split() == ["msg/s", "×", "raw"]
    assert raw.startswith("raw smtplib (baseline)") and raw.endswith("1.000")
    assert flow.startswith("Listonosz flow ")


@pytest.mark.slow
def test_the_provider_benchmark_sends_everyone_through_the_whole_flow() -> None:
    # 2,000 recipients: the preparing workers start, and SendGrid's batches of 500 are factored
    # from a sample and fitted. The script asserts that the flow sent everyone and that the
    # fake accepted each message of both measurements.
    run = _bench("benchmarks/send.py", "--transport", "sendgrid", "--recipients", "2000")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "sendgrid: 2000 recipients" in run.stdout
    header, flow, alone = _last_lines(run.stdout, 3)
    assert header.split() == ["msg/s"]
    assert flow.startswith("Listonosz flow via sendgrid")
    assert alone.startswith("the transport alone")


@pytest.mark.slow
def test_the_webhooks_benchmark_checks_the_store_and_ends_with_its_targets() -> None:
    run = _bench("benchmarks/webhooks.py", "--batches", "2", "--singles", "300")
    assert run.returncode == 0, run.stderr[-3000:]
    store, targets = _last_lines(run.stdout, 2)
    assert store.startswith("store:    2,300 events recorded once each; outcomes ")
    assert "bounced 40" in store and "40 addresses suppressed" in store  # 1 in 50 batched
    assert targets.startswith("targets:  >= 10,000 events/s batched: ")


@pytest.mark.slow
def test_the_web_benchmark_ends_with_its_ratios() -> None:
    if shutil.which("wrk") is None:
        unavailable("wrk is not installed: run scripts/setup-system.sh as root")
    run = _bench("benchmarks/web.py", "--seconds", "1", "--deliveries", "3000")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "FAIL" not in run.stdout, run.stdout
    header, bare, click, page, target = _last_lines(run.stdout, 5)
    assert header.split()[:2] == ["req/s", "p50"]
    assert bare.startswith("bare ASGI endpoint (baseline)") and " 1.000 " in bare
    assert click.startswith("one-click unsubscribe POST")
    assert page.startswith("RSVP page GET")
    assert target.startswith("target: one-click >= 1,000 req/s, p99 <= 50 ms, >= 0.4x bare: ")
    written = re.search(
        r"one-click: ([\d,]+) of ([\d,]+) POSTs were first unsubscribes", run.stdout
    )
    assert written, run.stdout
    first, total = (int(n.replace(",", "")) for n in written.groups())
    assert 0 < first < total  # the store took them, and some were repeats


def _scale_lines(run: subprocess.CompletedProcess[str]) -> list[str]:
    """The scale benchmark's closing lines: the memory verdict, the table, the three ratios."""
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-3000:]
    memory, header, *rows, one, two, three = _last_lines(run.stdout, 8)
    assert memory.startswith("memory: highest peak of any process ")
    assert header.split() == ["sending", "msg/s", "wall", "s"]
    assert [row.split("  ")[0] for row in rows] == [
        "embedded (SQLite)",
        "1 worker (PostgreSQL)",
        "2 workers (PostgreSQL)",
    ]
    return [one, two, three]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_scale_benchmark_sends_embedded_and_on_one_and_two_workers(
    postgres: PostgresServer,
) -> None:
    # The script asserts that the ledger and the sink each counted every recipient, per case.
    run = _bench(
        "benchmarks/scale.py", "--recipients", "300", LISTONOSZ_BENCH_POSTGRES_URL=postgres.url
    )
    one, two, three = _scale_lines(run)
    assert one.startswith("ratio: 2 workers / 1 worker ") and "(target >= 1: " in one
    assert two.startswith("ratio: 1 worker / embedded ")
    assert three.startswith("ratio: 2 workers / embedded ")
    # Every process of each case is reported with its peak memory: two workers in the last.
    for process in ("coordinator (listonosz send)", "worker 2 (listonosz worker)", "sink ("):
        assert re.search(re.escape(process) + r".* peak +\d+ MB", run.stdout), run.stdout
    assert "300 sent" in run.stdout and "Prefect server" in run.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_postfix_send_benchmark_compares_the_flow_on_workers_with_raw_smtplib(
    postgres: PostgresServer,
) -> None:
    if not os.access("/usr/sbin/smtp-sink", os.X_OK):
        unavailable("Postfix's smtp-sink is not installed: run scripts/setup-system.sh as root")
    # The script asserts that smtp-sink received every message of each measurement.
    run = _bench(
        "benchmarks/send.py",
        "--sink",
        "postfix",
        "--recipients",
        "300",
        LISTONOSZ_BENCH_POSTGRES_URL=postgres.url,
    )
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-3000:]
    header, raw, *flows, projection, target = _last_lines(run.stdout, 7)
    assert header.split()[:3] == ["whole", "msg/s", "×"]
    assert raw.startswith("raw smtplib (baseline)")
    assert [line.split("  ")[0] for line in flows] == [
        "Listonosz embedded (SQLite)",
        "Listonosz 1 worker (PostgreSQL)",
        "Listonosz 2 workers (PostgreSQL)",
    ]
    assert all(re.search(r"\d+\.\d\d$", line) for line in flows)  # CPU ms a message
    assert projection.startswith("projection: at ") and "N cores send at most N × " in projection
    assert target.startswith("target >= 0.5x raw with 2 workers: whole run ")
