"""The send-campaign flow through each mail API (its local fake), configured as staff would:
one named transport in the environment, the key from the environment, nothing else changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.campaign import send_campaign
from listonosz.store import Ledger
from tests.conftest import CAMPAIGN
from tests.fakes import API_KEY, FAKES, FakeApi

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]


@pytest.fixture(params=list(FAKES))
def api(
    request: pytest.FixtureRequest, listonosz_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeApi]:
    fake = FAKES[request.param](delay=0.02).start()
    prefix = "LISTONOSZ_TRANSPORTS__PROVIDER__"
    monkeypatch.setenv("LISTONOSZ_TRANSPORT", "provider")  # the one-line switch
    # the fake delivers to nobody; tests/integration/test_public_url.py covers the link check
    monkeypatch.setenv("LISTONOSZ_CHECK_PUBLIC_URL", "false")
    monkeypatch.setenv(f"{prefix}KIND", request.param)
    monkeypatch.setenv(f"{prefix}API_KEY", API_KEY)
    monkeypatch.setenv(f"{prefix}BASE_URL", fake.url)
    monkeypatch.setenv(f"{prefix}DOMAIN", "rops-bialystok.example")
    try:
        yield fake
    finally:
        fake.stop()


def test_the_seminar_goes_out_through_the_provider_once(api: FakeApi, listonosz_env: Path) -> None:
    result = send_campaign(str(CAMPAIGN), "invitation")
    assert result["sent"] == 86
    assert len(api.received) == 86 and len({r.to for r in api.received}) == 86
    assert all(h.status < 300 for h in api.send_hits())

    ledger = Ledger(f"sqlite:///{listonosz_env / 'ledger.sqlite'}")
    try:
        assert ledger.status_counts("ekonomia-spoleczna-2016", "invitation") == {"sent": 86}
        with ledger.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT key, detail FROM deliveries").all()
    finally:
        ledger.close()
    ids = {r.key: r.provider_id for r in api.received}
    for key, detail in rows:
        assert detail.startswith(api.name) and ids[key] in detail
        assert API_KEY not in detail
    assert API_KEY not in result["summary"]

    again = send_campaign(str(CAMPAIGN), "invitation")
    assert again["sent"] == 0 and again["nothing_to_send"]
    assert len(api.received) == 86
