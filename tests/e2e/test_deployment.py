"""prefect.yaml as the README uses it: deploy, start a process worker, run the deployment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PREFECT, REPO, Capture, deploy, prefect_cli


@pytest.mark.slow
def test_deployment_runs_on_a_worker(
    prefect_server: str, tmp_path: Path, listonosz_env: Path, capture: Capture
) -> None:
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    deploy(env)
    worker_log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", "listonosz"],
        cwd=REPO,
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        output = prefect_cli(
            env,
            "deployment",
            "run",
            "send-campaign/send-campaign",
            "-p",
            "batch_size=40",
            "--watch",
            "--watch-timeout",
            "240",
            timeout=300,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        worker_log.close()
    assert "Completed" in output, (tmp_path / "worker.log").read_text()
    assert len(capture.messages()) == 86
