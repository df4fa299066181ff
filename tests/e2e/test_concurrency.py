"""``Settings.concurrency``: how many send-batch tasks of a flow run send at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from prefect import task
from prefect.cache_policies import NONE

import flows.campaign
from flows.campaign import send_campaign
from listonosz.sending import BatchReport, BatchSender, Ready
from tests.conftest import CAMPAIGN, Capture

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.mark.parametrize("concurrency", [2, 5])
def test_concurrency_bounds_the_send_batch_tasks_running_at_once(
    concurrency: int, listonosz_env: Path, capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LISTONOSZ_CONCURRENCY", str(concurrency))
    running, most = 0, 0
    lock = threading.Lock()
    original = flows.campaign.send_batch

    @task(name="send-batch", cache_policy=NONE, task_run_name="send-batch-{number}")
    def counted(sender: BatchSender, batch: list[Ready], number: int) -> BatchReport:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.5)  # long enough for every task allowed to run to start meanwhile
            return original.fn(sender, batch, number)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(flows.campaign, "send_batch", counted)
    # 86 recipients in batches of 8: 11 tasks, more than either limit
    result = send_campaign(str(CAMPAIGN), "invitation", batch_size=8)
    assert result["sent"] == len(capture.messages()) == 86
    assert most == concurrency
