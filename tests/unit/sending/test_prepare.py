"""Preparing in worker processes gives the same messages as preparing in this one, and a
template error found in a worker still names every recipient it hits."""

from __future__ import annotations

import datetime as dt
import pickle
import shutil
import time
from pathlib import Path

import lz4.frame
import pytest

from listonosz.campaign import Campaign, load_campaign
from listonosz.config import Settings
from listonosz.contacts.model import Contact
from listonosz.render.preflight import PreflightError
from listonosz.sending import (
    MessageFactory,
    Ready,
    Spool,
    merge_audience,
    prepare,
    prepare_messages,
)
from listonosz.stopping import Stop
from tests.conftest import CAMPAIGN, REPO

NOW = dt.datetime(2016, 8, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def campaign(tmp_path: Path) -> Campaign:
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    return load_campaign(CAMPAIGN).model_copy(update={"base_dir": tmp_path})


@pytest.fixture
def audience() -> list[Contact]:
    return merge_audience(load_campaign(CAMPAIGN)).contacts


@pytest.fixture
def slow_here(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Chunks of 10, and this process slowed down, so the workers surely take some chunks;
    returns the list of chunk sizes this process prepared itself."""
    monkeypatch.setattr(prepare, "CHUNK", 10)
    here, real = [], prepare._prepare_chunk

    def slowly(
        factory: MessageFactory,
        contacts: list[Contact],
        mime: bool,
        stop: Stop | None,
        spool: Spool,
    ) -> object:
        here.append(len(contacts))
        time.sleep(0.4)
        return real(factory, contacts, mime, stop, spool)

    monkeypatch.setattr(prepare, "_prepare_chunk", slowly)
    return here


@pytest.mark.parametrize("mime", [True, False], ids=["mime", "parts"])
def test_workers_make_the_same_messages_in_the_same_order(
    campaign: Campaign,
    audience: list[Contact],
    tmp_path: Path,
    slow_here: list[int],
    mime: bool,
) -> None:
    factory = MessageFactory(campaign, "invitation", Settings(var_dir=tmp_path), now=NOW)
    here = prepare_messages(factory, audience, mime, workers=0)
    slow_here.clear()
    there = prepare_messages(factory, audience, mime, workers=2)
    assert 0 < sum(slow_here) < len(audience)  # we prepared some chunks, the workers the rest
    assert [r.email for r in there] == [c.email for c in audience]
    assert [r.outgoing() for r in there] == [r.outgoing() for r in here]
    assert [_row(r) for r in there] == [_row(r) for r in here]  # keys, IDs, packed bytes


def _row(ready: Ready) -> tuple[str, str, str, str, bytes]:
    return ready.key, ready.email, ready.groups, ready.message_id, ready.packed()


def test_a_failure_in_a_worker_lists_every_recipient_it_hits(
    campaign: Campaign, audience: list[Contact], tmp_path: Path, slow_here: list[int]
) -> None:
    template = campaign.templates_dir / "invitation.html.j2"
    source = template.read_text(encoding="utf-8")
    anchor = "<p>{{ salutation }},</p>"
    broken = '{% if contact is in_group("media") %}<p>{{ contact.nickname }}</p>{% endif %}'
    template.write_text(source.replace(anchor, f"{anchor}\n{broken}", 1), encoding="utf-8")
    factory = MessageFactory(campaign, "invitation", Settings(var_dir=tmp_path), now=NOW)
    with pytest.raises(PreflightError) as caught:
        prepare_messages(factory, audience, mime=True, workers=2)
    journalists = sorted(c.email for c in audience if "media" in c.groups)
    assert len(journalists) == 9
    assert sorted(f.recipient for f in caught.value.failures) == journalists
    assert {f.problem for f in caught.value.failures} == {"Contact has no attribute 'nickname'"}


def test_a_prepared_message_unpacks_to_exactly_what_the_factory_made(
    campaign: Campaign, audience: list[Contact], tmp_path: Path
) -> None:
    factory = MessageFactory(campaign, "invitation", Settings(var_dir=tmp_path), now=NOW)
    contact = audience[0]
    for mime in (True, False):
        (ready,) = prepare_messages(factory, [contact], mime, workers=0)
        made = factory.outgoing(factory.prepare(contact), NOW, mime)
        assert ready.outgoing() == made
        assert made.parts is None or made.parts.attachments  # the calendar entry comes along
        assert pickle.loads(lz4.frame.decompress(ready.packed())) == made


def test_messages_wait_in_the_spool_not_in_memory(
    campaign: Campaign, audience: list[Contact], tmp_path: Path
) -> None:
    factory = MessageFactory(campaign, "invitation", Settings(var_dir=tmp_path), now=NOW)
    with Spool(tmp_path / "spool") as spool:
        ready = prepare_messages(factory, audience, mime=True, workers=0, spool=spool)
        assert spool.size == sum(r.size for r in ready) > 86 * 2_000
        assert [r.offset for r in ready] == sorted(r.offset for r in ready)
        assert ready[-1].outgoing() == factory.outgoing(
            factory.prepare(audience[-1]), NOW, mime=True
        )
        assert list((tmp_path / "spool").iterdir()) == []  # unlinked: nothing left after a crash
