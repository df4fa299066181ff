"""`listonosz report` after a real campaign through a provider fake that delivers most
messages, bounces some and gets one complaint, reported back over its signed webhooks: the
counts per stakeholder group and per mailbox provider are exactly what the fake did."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from flows.campaign import send_campaign
from listonosz.campaign import load_campaign
from listonosz.config import Settings
from listonosz.contacts.groups import group_label
from listonosz.reports import provider_of
from listonosz.sending import merge_audience
from listonosz.store import Inbox
from tests.conftest import LISTONOSZ, REPO, serving
from tests.fakes import API_KEY
from tests.fakes.postmark import FakePostmark
from tests.fakes.webhooks import WEBHOOK_PASSWORD, WEBHOOK_USER, Target

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]


def test_the_report_counts_what_the_provider_did(
    tmp_path: Path, listonosz_env: Path, monkeypatch: pytest.MonkeyPatch, shots: Path
) -> None:
    project = tmp_path / "project"
    for folder in ("campaigns", "contacts", "templates"):
        shutil.copytree(REPO / folder, project / folder)
    campaign_file = project / "campaigns" / "ekonomia-spoleczna-2016.yaml"
    fake = FakePostmark().start()
    prefix = "LISTONOSZ_TRANSPORTS__PROVIDER__"
    for name, value in {
        "LISTONOSZ_TRANSPORT": "provider",
        "LISTONOSZ_CHECK_PUBLIC_URL": "false",
        f"{prefix}KIND": "postmark",
        f"{prefix}API_KEY": API_KEY,
        f"{prefix}BASE_URL": fake.url,
        "LISTONOSZ_WEBHOOKS__POSTMARK__SECRETS": f"{WEBHOOK_USER}:{WEBHOOK_PASSWORD}",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        with serving(project, campaign_file, tmp_path / "serve.log", monkeypatch) as site:
            fake.webhook = Target(f"{site.url}/hooks/postmark")
            assert send_campaign(str(campaign_file), "invitation")["sent"] == 86
            people = sorted(r.to for r in fake.received)
            bounced = set(people[::11])  # 8 hard bounces spread over the groups
            complained = people[5]
            fake.fates.update(dict.fromkeys(bounced, "bounced") | {complained: "complained"})
            assert set(fake.post_webhooks()) == {200}
            settings = Settings()
            with closing(Inbox(settings.resolved_ledger_url)) as inbox:
                for _ in range(600):
                    if not inbox.pending():
                        break
                    time.sleep(0.05)
                assert inbox.counts() == {"done": inbox.counts().get("done", 0)}
    finally:
        fake.stop()

    workbook, chart = tmp_path / "raport.xlsx", shots / "report-groups.png"
    command = [LISTONOSZ, "report", str(campaign_file), "--xlsx", str(workbook)]
    done = subprocess.run(
        [*command, "--chart", str(chart)],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "complaint rate: przekroczony próg 0,3%" in done.stderr  # 1 of 86 is 1.16 %

    # what the fake did, per group and per provider, from the lists themselves
    audience = merge_audience(load_campaign(campaign_file)).contacts
    groups: Counter[str] = Counter()
    providers: Counter[str] = Counter()
    for contact in audience:
        fate = (
            "hard"
            if contact.email in bounced
            else "complaints"
            if contact.email == complained
            else "delivered"
        )
        for code in contact.groups:
            groups[(group_label(code), "sent")] += 1
            groups[(group_label(code), fate)] += 1
            if fate == "complaints":  # a complaint is delivered mail
                groups[(group_label(code), "delivered")] += 1
        where = provider_of(contact.email, frozenset({"rops-bialystok.example"}))
        providers[(where, "sent")] += 1
        providers[(where, fate)] += 1
        if fate == "complaints":
            providers[(where, "delivered")] += 1

    sheets = pd.read_excel(workbook, sheet_name=None, index_col=0)
    columns = {
        "sent": "Wysłane",
        "delivered": "Dostarczone",
        "hard": "Odbicia trwałe",
        "complaints": "Skargi na spam",
    }
    for sheet, expected in (("Grupy", groups), ("Dostawcy poczty", providers)):
        table = sheets[sheet].drop(index="Razem")
        for (row, what), count in expected.items():
            assert int(table.loc[row, columns[what]]) == count, (sheet, row, what)
        assert int(sheets[sheet].loc["Razem", "Wysłane"]) == 86
        assert int(table["Odbicia przejściowe"].sum()) == 0
    assert int(sheets["Grupy"].loc["Razem", "Odbicia trwałe"]) == len(bounced)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for row in sheets["Grupy"].index:  # the screen shows the same table
        assert str(row) in done.stdout

    # the same numbers as Prefect artifacts, from the campaign-report flow
    from prefect.artifacts import Artifact

    from flows.reports import report_campaign

    result = report_campaign(str(campaign_file), "invitation")
    assert (result["sent"], result["delivered"]) == (86, 86 - len(bounced))
    artifact = Artifact.get("ekonomia-spoleczna-2016-invitation-tracking-group")
    assert artifact is not None and "Razem" in str(artifact.data)
    assert Path(result["workbook"]).exists() and Path(result["chart"]).exists()
