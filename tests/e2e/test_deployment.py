"""prefect.yaml as the README uses it: deploy, start a process worker, run the deployment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Capture, deployed_worker, run_send_campaign


@pytest.mark.slow
def test_deployment_runs_on_a_worker(
    prefect_server: str, tmp_path: Path, listonosz_env: Path, capture: Capture
) -> None:
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    with deployed_worker(env, tmp_path / "worker.log"):
        output = run_send_campaign(env, "campaigns/ekonomia-spoleczna-2016.yaml")
    assert "Completed" in output, (tmp_path / "worker.log").read_text()
    assert len(capture.messages()) == 86
