"""The one-click fast path (``listonosz.web.oneclick``) against its reference, the FastAPI
route: two apps over two stores seeded alike, one with the fast path and one without, get the
same requests (first and repeated one-clicks, tampered, truncated, foreign-purpose and dead
tokens, other bodies, multipart variants, oversized bodies); every answer (status, headers,
page) and, at the end, every event and suppression row must be the same, and the fast path
must have answered the one-clicks itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.responses import Response
from starlette.testclient import TestClient

from listonosz.config import Settings
from listonosz.mail import sign_token
from listonosz.store import EventLog, SuppressionList
from listonosz.web import MAX_BODY, create_app
from listonosz.web.oneclick import OneClick
from tests.factories import seed_deliveries, write_project

SECRET = "test-secret-for-the-fast-path"
CAMPAIGN_ID = "ekonomia-spoleczna-2016"
PEOPLE = [f"osoba.{n}@gmina{n}.example.pl" for n in range(12)]
MULTIPART = "multipart/form-data; boundary=b0undary"


def _multipart(*parts: tuple[str, str], extra: str = "") -> bytes:
    body = "".join(
        f'--b0undary\r\nContent-Disposition: form-data; name="{name}"\r\n{extra}\r\n{value}\r\n'
        for name, value in parts
    )
    return f"{body}--b0undary--\r\n".encode()


ONE_CLICK = _multipart(("List-Unsubscribe", "One-Click"))
URLENCODED = "application/x-www-form-urlencoded"


@contextmanager
def _site(root: Path, project: Path, fast: bool) -> Iterator[tuple[TestClient, str, list[str]]]:
    store = f"sqlite:///{root / 'ledger.sqlite'}"
    keys = seed_deliveries(store, CAMPAIGN_ID, "invitation", PEOPLE)
    keys += seed_deliveries(store, CAMPAIGN_ID, "newsletter", PEOPLE[:2])
    settings = Settings(
        var_dir=root / "var", project_dir=project, ledger_url=store, token_secret=SECRET
    )
    app = create_app(settings, fast_one_click=fast)
    with TestClient(app, follow_redirects=False) as client:
        yield client, store, keys


def _requests(keys: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(path, httpx request arguments) of every request, in order."""
    secret = SECRET.encode()

    def token(n: int) -> str:
        return sign_token(secret, "unsubscribe", k=keys[n])

    real = token(0)
    tampered = real[:-2] + ("AA" if not real.endswith("AA") else "BB")
    one = {"content": ONE_CLICK, "headers": {"content-type": MULTIPART}}
    form = {"content": b"List-Unsubscribe=One-Click", "headers": {"content-type": URLENCODED}}
    sent: list[tuple[str, dict[str, Any]]] = [
        (f"/u/{token(0)}", one),  # first: unsubscribed
        (f"/u/{token(0)}", one),  # repeated: nothing changes
        (f"/u/{token(1)}", form),  # urlencoded
        (f"/u/{token(1)}", form),
        (f"/u/{token(2)}", {"files": {"List-Unsubscribe": (None, "One-Click")}}),  # httpx's
        (f"/u/{token(12)}", one),  # the newsletter to person 0, already unsubscribed from all
        (f"/u/{tampered}", one),
        (f"/u/{real[: len(real) // 2]}", one),  # truncated
        (f"/u/{sign_token(secret, 'rsvp', k=keys[3], a='yes')}", one),  # another purpose
        (f"/u/{sign_token(b'another secret', 'unsubscribe', k=keys[3])}", one),
        (f"/u/{sign_token(secret, 'unsubscribe', k='0' * 40)}", one),  # a delivery gone
        (f"/u/{sign_token(secret, 'unsubscribe', k='../../etc')}", one),  # signed, not a key
        ("/u/%F0%9F%92%A9.%00%ff", one),  # unicode junk
        ("/u/", one),
        (f"/u/{token(3)}/", one),
        (f"/u/{token(3)}?List-Unsubscribe=One-Click", {}),  # no body
        (f"/u/{token(3)}", {"content": b'{"List-Unsubscribe": "One-Click"}'}),
        (f"/u/{token(3)}", {**form, "content": b"List-Unsubscribe=one-click"}),  # wrong value
        (f"/u/{token(3)}", {**form, "content": b"List-Unsubscribe=One-Click&x=1"}),
        (f"/u/{token(3)}", {"content": b"--b0undary\r\n", "headers": one["headers"]}),
        (f"/u/{token(4)}", {"content": _multipart(("scope", "newsletter")), **_h(MULTIPART)}),
        (f"/u/{token(4)}", {**form, "content": b"scope=all"}),  # the page's own form
        (
            f"/u/{token(5)}",
            {"content": _multipart(("List-Unsubscribe", "One-Click"), ("x", "1")), **_h(MULTIPART)},
        ),
        (
            f"/u/{token(6)}",
            {
                "content": _multipart(
                    ("List-Unsubscribe", "One-Click"), extra="Content-Type: text/plain\r\n"
                ),
                **_h(MULTIPART),
            },
        ),
        (
            f"/u/{token(7)}",
            {"content": ONE_CLICK, **_h('multipart/form-data; boundary="b0undary"')},
        ),
        (f"/u/{token(8)}", {"content": b"x" * (MAX_BODY + 1), **_h(URLENCODED)}),  # oversized
        (f"/u/{token(8)}", {"content": ONE_CLICK + b"x" * MAX_BODY, **_h(MULTIPART)}),
        (f"/u/{token(9)}", {"content": ONE_CLICK, **_h("text/plain")}),
        (f"/u/{token(9)}", one),
        (f"/u/{tampered}", {"content": b"garbage", **_h(MULTIPART)}),
    ]
    return sent


def _h(content_type: str) -> dict[str, dict[str, str]]:
    return {"headers": {"content-type": content_type}}


#: how many of ``_requests`` the fast path answers itself (a one-click body it recognises, to
#: /u/ and a token without a slash): the first six, the seven bad tokens after them, and the
#: one-clicks of tokens 6, 7 and 9
FAST = 6 + 7 + 3


def _answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], str]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "date"]
    return response.status_code, headers, response.text


def _rows(store: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with closing(EventLog(store)) as log, closing(SuppressionList(store, SECRET.encode())) as sup:
        events = sorted(
            (
                e.source,
                e.source_event_id,
                e.type,
                e.delivery_key,
                e.campaign,
                sorted(e.detail.items()),
            )
            for e in log.of_type("unsubscribed")
        )
        entries = sorted(
            (e.key, e.email, e.reason, e.detail, e.scope, e.source) for e in sup.entries()
        )
    return events, entries


def test_the_fast_path_answers_as_the_route_does(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_project(project, 1, dt.date.today() + dt.timedelta(days=30))
    with (
        _site(tmp_path / "fast", project, fast=True) as (fast, fast_store, keys),
        _site(tmp_path / "reference", project, fast=False) as (reference, ref_store, same),
    ):
        assert keys == same
        outer = fast.app
        inner = getattr(outer, "app", None)
        assert isinstance(inner, OneClick)
        served: list[str] = []
        original = inner.answer

        async def counted(token: str) -> Response:
            served.append(token)
            return await original(token)

        inner.answer = counted
        assert not isinstance(getattr(reference.app, "app", None), OneClick)
        for path, arguments in _requests(keys):
            answers = [_answer(client.post(path, **arguments)) for client in (fast, reference)]
            assert answers[0] == answers[1], path
        assert len(served) == FAST
        fast_rows, reference_rows = _rows(fast_store), _rows(ref_store)
        assert fast_rows == reference_rows
        events, entries = fast_rows
        # persons 0-7 and 9 unsubscribed, person 4 first from newsletters then from all
        assert len(events) == 10 and len(entries) == 9
