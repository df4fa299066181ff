"""The send benchmark itself runs: a small audience through a provider's fake, end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_the_provider_benchmark_sends_everyone_through_the_whole_flow() -> None:
    # 2,000 recipients: the preparing workers start, and SendGrid's batches of 500 are factored
    # from a sample and fitted. The script asserts that the flow sent everyone and that the
    # fake accepted each message of both measurements.
    run = subprocess.run(
        [sys.executable, "benchmarks/send.py", "--transport", "sendgrid", "--recipients", "2000"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "sendgrid: 2000 recipients" in run.stdout
    assert "Listonosz flow via sendgrid" in run.stdout
