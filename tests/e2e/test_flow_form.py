"""The send-campaign flow's form options, as the Prefect UI passes them: a sample to a staff
address first, a dry run, and the drop-downs' lists (the flow's parameter schema)."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from prefect.utilities.callables import parameter_schema

from flows.campaign import send_campaign
from listonosz.campaign import CampaignError, load_campaign
from listonosz.config import Settings
from listonosz.store import Ledger
from tests.conftest import Capture
from tests.factories import write_project

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project of 3 recipients with two campaign files and one that does not load."""
    root = tmp_path / "project"
    first = write_project(root, 3)
    (root / "campaigns" / "drugi.yaml").write_text(
        first.read_text().replace("id: ekonomia-spoleczna-2016", "id: drugi")
    )
    (root / "campaigns" / "zepsuty.yaml").write_text("id: [not a campaign\n")
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(root))
    return root


def test_the_form_lists_the_projects_campaigns_and_their_message_kinds(project: Path) -> None:
    properties = parameter_schema(send_campaign).model_dump_for_openapi()["properties"]
    assert properties["campaign_path"]["enum"] == ["campaigns/drugi.yaml", "campaigns/bench.yaml"]
    kinds = list(load_campaign(project / "campaigns" / "bench.yaml").messages)
    assert properties["message"]["enum"] == kinds
    assert properties["message"]["default"] == "invitation"
    assert properties["dry_run"] == {**properties["dry_run"], "type": "boolean", "default": False}
    assert properties["test_to"] == {**properties["test_to"], "type": "string", "default": ""}


def test_a_form_without_campaigns_has_no_drop_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(tmp_path))  # no campaigns/ folder
    properties = parameter_schema(send_campaign).model_dump_for_openapi()["properties"]
    assert "enum" not in properties["campaign_path"]
    assert "enum" not in properties["message"]


def test_test_to_sends_one_sample_of_the_chosen_message_to_staff_only(
    project: Path, listonosz_env: Path, capture: Capture
) -> None:
    result = send_campaign("campaigns/bench.yaml", "reminder", test_to="Sekretariat@ROPS.example")
    assert result["sent"] == 0
    assert result["summary"].startswith("reminder: sent")
    (path,) = capture.messages()
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert str(message["To"]) == "sekretariat@rops.example"
    assert str(message["Subject"]).startswith("[TEST] Przypomnienie:")
    with Ledger(Settings().resolved_ledger_url) as ledger:  # samples leave no trace
        assert ledger.sent_emails("ekonomia-spoleczna-2016", "reminder") == set()
    with pytest.raises(CampaignError, match="test_to 'nikt'"):
        send_campaign("campaigns/bench.yaml", "reminder", test_to="nikt")


def test_dry_run_writes_the_messages_and_sends_nothing(
    project: Path, listonosz_env: Path, capture: Capture
) -> None:
    result = send_campaign("campaigns/drugi.yaml", "invitation", dry_run=True)
    assert result["sent"] == 3
    assert len(list((listonosz_env / "dry-run").glob("*.eml"))) == 3
    assert capture.messages() == []
    with Ledger(Settings().resolved_ledger_url) as ledger:  # the real ledger: nothing sent
        assert ledger.sent_emails("drugi", "invitation") == set()
