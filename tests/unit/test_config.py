"""Settings from listonosz.toml and the environment, and the Prefect deployment file."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

from listonosz.config import Settings
from tests.conftest import REPO


def test_example_config_loads_with_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LISTONOSZ_CONFIG", str(REPO / "listonosz.example.toml"))
    monkeypatch.setenv("LISTONOSZ_TRANSPORTS__M365__PASSWORD", "not-a-real-password")
    settings = Settings()
    m365 = settings.transport_settings("m365")
    assert (m365.host, m365.port, m365.security) == ("smtp.office365.com", 587, "starttls")
    assert m365.password is not None
    assert m365.password.get_secret_value() == "not-a-real-password"
    assert "not-a-real-password" not in repr(settings) + str(settings.model_dump())
    assert settings.transport_settings().port == 8025  # the default transport: capture


def test_unknown_transport_lists_the_configured_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTONOSZ_CONFIG", str(REPO / "listonosz.example.toml"))
    with pytest.raises(ValueError, match=r"unknown transport 'sendgrid'.*capture, hosting, m365"):
        Settings().transport_settings("sendgrid")


def test_token_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    first = settings.signing_secret()
    assert len(first) >= 32
    assert Settings(var_dir=tmp_path).signing_secret() == first
    assert (tmp_path / "token_secret").stat().st_mode & 0o077 == 0


def test_deployments_match_their_flows() -> None:
    from flows.campaign import send_campaign
    from flows.followups import ATTENDANCE_CLOSED, run_follow_ups

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    deployments = {d["name"]: d for d in spec["deployments"]}
    for name, flow in (("send-campaign", send_campaign), ("follow-ups", run_follow_ups)):
        deployment = deployments[name]
        path, function = deployment["entrypoint"].split(":")
        assert (REPO / path).is_file() and function == flow.fn.__name__
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.get("parameters") or {}) <= accepted
        for trigger in deployment.get("triggers") or []:
            assert set(trigger["parameters"]) <= accepted
    # staff pick the campaign in the form: no default that sends an old campaign by mistake
    assert "campaign_path" not in deployments["send-campaign"]["parameters"]
    follow_ups = deployments["follow-ups"]
    assert follow_ups["schedules"] == [
        {"cron": "*/15 * * * *", "timezone": "Europe/Warsaw", "slug": "every-15-minutes"}
    ]
    (trigger,) = follow_ups["triggers"]
    assert trigger["expect"] == [ATTENDANCE_CLOSED]


def test_the_bounce_mailbox_comes_from_the_file_and_its_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LISTONOSZ_CONFIG", str(REPO / "listonosz.example.toml"))
    monkeypatch.setenv("LISTONOSZ_BOUNCES__PASSWORD", "not-a-real-password")
    bounces = Settings().bounces
    assert bounces is not None
    assert (bounces.host, bounces.port, bounces.security) == (
        "imap.rops-bialystok.example",
        993,
        "tls",
    )
    assert (bounces.folder, bounces.processed_folder, bounces.unrecognised_folder) == (
        "INBOX",
        "Processed",
        "Unrecognised",
    )
    assert bounces.password is not None
    assert bounces.password.get_secret_value() == "not-a-real-password"
    assert "not-a-real-password" not in repr(bounces)
    assert bounces.trust_unsigned is False  # only a signed VERP address applies a report
