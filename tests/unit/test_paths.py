"""Where a campaign's files may live, refusals that never show a file's content, and the
private files Listonosz writes (issue 11)."""

from __future__ import annotations

import copy
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from listonosz.campaign import Campaign, CampaignError, Source, load_campaign, open_campaign
from listonosz.config import Settings
from listonosz.contacts.errors import ContactFileError
from listonosz.contacts.read import SourceList, read_tables
from listonosz.paths import PathError
from tests.conftest import CAMPAIGN, REPO

#: The installation secret these tests key suppression hashes with.
SECRET = b"test installation secret"

SAMPLE: dict[str, Any] = yaml.safe_load(CAMPAIGN.read_text(encoding="utf-8"))
#: What /etc/shadow and /etc/passwd look like; tests write their own so they run as anyone.
SHADOW = "root:*:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\nmail:*:20228:0:99999:7:::\n"
PASSWD = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder beside (not holding) a folder of private files."""
    root = tmp_path / "project"
    (root / "campaigns").mkdir(parents=True)
    (root / "contacts").mkdir()
    (root / "contacts" / "lista.csv").write_text(
        "Imię;E-mail\nJan;jan@gmina.example.pl\n", encoding="utf-8"
    )
    (root / "templates").mkdir()
    secrets = tmp_path / "etc"
    secrets.mkdir()
    (secrets / "passwd").write_text(PASSWD, encoding="utf-8")
    (secrets / "shadow").write_text(SHADOW, encoding="utf-8")
    return root


def campaign_with(root: Path, *paths: str, **fields: Any) -> Path:
    """The sample campaign reading ``paths`` as its contact lists, written into campaigns/."""
    data = copy.deepcopy(SAMPLE)
    data["audience"]["sources"] = [{"path": p, "group": "jst"} for p in paths]
    data.update(fields)
    path = root / "campaigns" / "kampania.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def refusal(path: Path, **options: Any) -> str:
    with pytest.raises(CampaignError) as info:
        load_campaign(path, **options)
    message = str(info.value)
    assert "root:" not in message and "/bin/bash" not in message, message
    return message


# Contact sources and templates


@pytest.mark.parametrize("relative", [True, False])
def test_a_contact_source_outside_the_project_is_refused_by_name(
    project: Path, relative: bool
) -> None:
    passwd = project.parent / "etc" / "passwd"
    written = "../" * 6 + str(passwd).lstrip("/") if relative else str(passwd)
    message = refusal(campaign_with(project, "contacts/lista.csv", written))
    assert "audience.sources.1.path: contact source" in message
    assert str(passwd) in message  # named, resolved
    assert f"outside the project directory {project}" in message
    assert "allowed_dirs" in message


def test_a_symlink_out_of_the_project_is_followed_and_refused(project: Path) -> None:
    (project / "contacts" / "link.csv").symlink_to(project.parent / "etc" / "passwd")
    message = refusal(campaign_with(project, "contacts/link.csv"))
    assert f"({project.parent / 'etc' / 'passwd'})" in message


def test_an_allowed_folder_may_hold_contact_lists(project: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "ngo.csv").write_text("E-mail\nbiuro@fundacja.example.org\n", encoding="utf-8")
    path = campaign_with(project, "contacts/lista.csv", str(shared / "ngo.csv"))
    refusal(path)  # not without the setting
    campaign = load_campaign(path, allowed_dirs=[shared])
    assert campaign.source_path(campaign.audience.sources[1]) == shared / "ngo.csv"


def test_allowed_dirs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTONOSZ_ALLOWED_DIRS", f"/srv/listy{os.pathsep}/mnt/dysk")
    monkeypatch.setenv("LISTONOSZ_CONFIG", "absent.toml")
    assert Settings().allowed_dirs == [Path("/srv/listy"), Path("/mnt/dysk")]
    monkeypatch.setenv("LISTONOSZ_ALLOWED_DIRS", '["/srv/a b"]')
    assert Settings().allowed_dirs == [Path("/srv/a b")]


def test_var_dir_is_never_a_contact_source(project: Path) -> None:
    """var/ is inside the project, but holds the ledger and the token secret."""
    var = project / "var"
    Settings(var_dir=var, token_secret=None).signing_secret()
    message = refusal(campaign_with(project, "var/token_secret"), var_dir=var)
    assert (var / "token_secret").read_text().strip() not in message
    assert "var_dir" in message


def test_a_templates_folder_outside_the_project_is_refused(project: Path) -> None:
    message = refusal(campaign_with(project, "contacts/lista.csv", templates="../etc"))
    assert f"templates: templates folder {project / '..' / 'etc'}" in message
    assert "outside the project directory" in message


def test_a_templates_folder_holding_var_dir_is_refused(project: Path) -> None:
    path = campaign_with(project, "contacts/lista.csv", templates=".")
    message = refusal(path, var_dir=project / "var")
    assert "holds var_dir" in message
    assert load_campaign(path, var_dir=project.parent / "var").templates_dir == project


def test_source_path_checks_every_path_it_is_given(project: Path) -> None:
    """Confinement lives in the model, not only in load_campaign."""
    campaign: Campaign = load_campaign(campaign_with(project, "contacts/lista.csv"))
    with pytest.raises(PathError, match="outside the project directory"):
        campaign.source_path(Source(path=Path("../etc/passwd"), group="jst"))


def test_a_campaign_file_may_not_set_where_it_may_read(project: Path) -> None:
    message = refusal(campaign_with(project, "contacts/lista.csv", allowed_dirs=["/"]))
    assert "allowed_dirs: set by Listonosz" in message


# Errors that name a file without showing it


def test_a_file_with_no_header_is_not_echoed(project: Path) -> None:
    notes = project / "contacts" / "notatki.csv"
    notes.write_text("haslo-do-skrzynki-Zx81\nkolejna linia\n", encoding="utf-8")
    with pytest.raises(ContactFileError) as info:
        read_tables(SourceList(notes, label="notatki.csv"))
    message = str(info.value)
    assert "no e-mail column" in message and "Zx81" not in message


def test_a_yaml_error_gives_line_and_column_without_the_line(tmp_path: Path) -> None:
    path = tmp_path / "zepsuta.yaml"
    path.write_text("id: x\nevent:\n  title: [tajne-Qw12\n  kind: a: b\n", encoding="utf-8")
    message = refusal(path)
    assert message.startswith(f"{path}:4:")
    assert "not valid YAML" in message and "Qw12" not in message


def test_a_mapping_that_is_no_campaign_is_not_listed(project: Path) -> None:
    path = project / "campaigns" / "shadow.yaml"
    path.write_text(SHADOW, encoding="utf-8")
    message = refusal(path)
    assert "not a campaign file" in message and "daemon" not in message


def test_a_binary_file_is_no_campaign(project: Path) -> None:
    path = project / "campaigns" / "obraz.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert "not UTF-8" in refusal(path)


# Campaign files: the command line and the Prefect flow


def _settings(project: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LISTONOSZ_PROJECT_DIR", str(project))
    monkeypatch.setenv("LISTONOSZ_VAR_DIR", str(project.parent / "var"))
    monkeypatch.setenv("LISTONOSZ_CONFIG", str(project / "absent.toml"))
    return Settings()


@pytest.mark.parametrize(
    "given", ["{etc}/shadow", "{etc}/passwd", "campaigns/../../etc/shadow", "kampania.yaml"]
)
def test_only_the_projects_campaigns_folder_holds_campaign_files(
    project: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    campaign_with(project, "contacts/lista.csv")
    (project / "kampania.yaml").write_text(
        (project / "campaigns" / "kampania.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    path = given.format(etc=project.parent / "etc")
    settings = _settings(project, monkeypatch)
    with pytest.raises(CampaignError) as info:
        open_campaign(path, settings)
    message = str(info.value)
    assert str((project / path).resolve()) in message
    assert f"not in the campaigns/ folder of the project directory {project}" in message
    assert "root:" not in message
    assert open_campaign("campaigns/kampania.yaml", settings).base_dir == project


@pytest.mark.parametrize("command", ["report", "send", "preview"])
def test_commands_refuse_a_campaign_file_outside_the_project(
    project: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from listonosz.cli import app

    _settings(project, monkeypatch)
    for name in ("shadow", "passwd"):
        result = CliRunner().invoke(app, [command, str(project.parent / "etc" / name)])
        assert result.exit_code == 2, result.output
        assert "not in the campaigns/ folder" in result.output
        assert "root:" not in result.output and "daemon" not in result.output


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Past loading the campaign, the flow makes its transport: stop it there."""

    class Reached(Exception):
        pass

    def stop(*_args: object, **_kwargs: object) -> None:
        raise Reached("the flow went past loading the campaign")

    monkeypatch.setattr("flows.campaign.make_transport", stop)
    yield


@pytest.mark.usefixtures("reached")
def test_the_flow_refuses_a_campaign_path_outside_campaigns(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.campaign import send_campaign

    _settings(project, monkeypatch)
    campaign_with(project, "contacts/lista.csv")
    elsewhere = project / "contacts" / "kampania.yaml"
    elsewhere.write_text((project / "campaigns" / "kampania.yaml").read_text(encoding="utf-8"))
    link = project / "campaigns" / "link.yaml"
    link.symlink_to(project.parent / "etc" / "shadow")
    for given in ("contacts/kampania.yaml", str(elsewhere), "campaigns/link.yaml"):
        with pytest.raises(CampaignError, match=r"not in the campaigns/ folder") as info:
            send_campaign.fn(given)
        assert "root:" not in str(info.value)
    with pytest.raises(Exception, match="went past loading"):
        send_campaign.fn("campaigns/kampania.yaml")  # a campaign in campaigns/ gets through


# Private files


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (0022), under which files come out world-readable unless made private."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_the_ledger_and_its_journal_are_private(tmp_path: Path) -> None:
    from listonosz.store import Ledger, SuppressionList

    var = tmp_path / "var"
    url = f"sqlite:///{var / 'ledger.sqlite'}"
    ledger = Ledger(url)
    suppression = SuppressionList(url, SECRET)
    try:
        suppression.add("jan@gmina.example.pl", "unsubscribed")
        ledger.claim("kampania", "invitation", [("jan@gmina.example.pl", "jst", "<1@x>")], "r")
        files = sorted(var.iterdir())
        assert {p.name for p in files} >= {"ledger.sqlite", "ledger.sqlite-wal"}
        assert mode(var) == 0o700
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        ledger.close()
        suppression.close()


@pytest.mark.usefixtures("open_umask")
def test_an_old_world_readable_ledger_is_made_private(tmp_path: Path) -> None:
    from listonosz.store import Ledger

    path = tmp_path / "ledger.sqlite"
    path.touch(mode=0o644)
    path.chmod(0o644)
    Ledger(f"sqlite:///{path}").close()
    assert mode(path) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_reports_dry_runs_captures_and_the_secret_are_private(tmp_path: Path) -> None:
    from listonosz.contacts.merge import SourceList, merge_lists
    from listonosz.contacts.report import write_report
    from listonosz.transports.base import Outgoing
    from listonosz.transports.capture import OutboxHandler
    from listonosz.transports.outbox import OutboxTransport

    var = tmp_path / "var"
    lista = tmp_path / "lista.csv"
    lista.write_text("E-mail\njan@gmina.example.pl\n", encoding="utf-8")
    report = var / "reports" / "kampania-contacts.csv"
    write_report(merge_lists([SourceList(lista, "jst")]), report)
    dry_run = OutboxTransport(var / "dry-run")
    dry_run.send_batch([Outgoing("k1", "a@b.pl", "z@b.pl", b"Subject: x\r\n\r\nx\r\n")])
    handler = OutboxHandler(var / "outbox")
    Settings(var_dir=var, token_secret=None).signing_secret()

    class Envelope:
        original_content = b"Subject: x\r\n\r\nx\r\n"

    import asyncio

    asyncio.run(handler.handle_DATA(None, None, Envelope()))  # type: ignore[arg-type]
    written = [p for p in var.rglob("*")]
    assert len([p for p in written if p.is_file()]) == 4
    assert {str(p): mode(p) for p in written} == {
        str(p): 0o700 if p.is_dir() else 0o600 for p in written
    }


@pytest.mark.usefixtures("open_umask")
def test_the_local_prefect_database_is_private(tmp_path: Path) -> None:
    from prefect.settings import (
        PREFECT_API_DATABASE_CONNECTION_URL,
        PREFECT_HOME,
        temporary_settings,
    )

    from flows.local_server import private_prefect_home

    home = tmp_path / "prefect"
    home.mkdir(mode=0o755)
    for name in ("prefect.db", "prefect.db-wal", "memo_store.toml"):
        (home / name).touch()
        (home / name).chmod(0o644)
    with temporary_settings(
        updates={PREFECT_HOME: str(home)}, restore_defaults={PREFECT_API_DATABASE_CONNECTION_URL}
    ):
        private_prefect_home()
    assert mode(home) == 0o700
    assert mode(home / "prefect.db") == mode(home / "prefect.db-wal") == 0o600
    assert mode(home / "memo_store.toml") == 0o644  # not its database: left alone

    fresh = tmp_path / "fresh" / "prefect"
    with temporary_settings(
        updates={PREFECT_HOME: str(fresh)}, restore_defaults={PREFECT_API_DATABASE_CONNECTION_URL}
    ):
        private_prefect_home()
    assert mode(fresh) == 0o700
    assert mode(fresh / "prefect.db") == 0o600  # made empty here, so SQLite keeps the mode


def test_the_sample_project_still_loads_from_the_repository(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("LISTONOSZ_PROJECT_DIR", raising=False)
    monkeypatch.setenv("LISTONOSZ_CONFIG", "absent.toml")
    campaign = open_campaign("campaigns/ekonomia-spoleczna-2016.yaml", Settings())
    assert campaign.base_dir == REPO
    assert campaign.templates_dir == REPO / "templates"
