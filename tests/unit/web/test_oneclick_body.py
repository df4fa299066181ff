"""The fast path's recogniser of a one-click body against the form parser the FastAPI route
uses (Starlette's, over python-multipart): whatever the recogniser takes, the route reads as
exactly one field, ``List-Unsubscribe`` = ``One-Click``; and what clients really send (httpx
and curl's multipart, the urlencoded form) it does take."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from listonosz.web.oneclick import is_one_click


def route_fields(content_type: bytes, body: bytes) -> dict[str, str] | None:
    """The string fields the FastAPI route reads from this body; None where it says 400."""

    async def parse() -> dict[str, str] | None:
        sent = False

        async def receive() -> dict[str, object]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/u/x",
            "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(body))],
        }
        request = Request(scope, receive)
        try:
            form = await request.form()
        except Exception:
            return None
        items = form.multi_items()
        if any(not isinstance(value, str) for _, value in items):
            return {"(a file)": ""}
        return {name: str(value) for name, value in items} if len(items) == len(form) else None

    return asyncio.run(parse())


ONE_FIELD = {"List-Unsubscribe": "One-Click"}


def _httpx_multipart(**extra: object) -> tuple[bytes, bytes]:
    request = httpx.Request(
        "POST", "http://x/u/t", files={"List-Unsubscribe": (None, "One-Click")}, **extra
    )
    return request.headers["content-type"].encode(), request.read()


def test_what_clients_send_is_taken() -> None:
    content_type, body = _httpx_multipart()
    assert is_one_click(content_type, body)  # httpx: what tests/e2e/test_web.py sends
    curl = (
        b"--------------------------d74496d66958873e\r\n"
        b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        b"One-Click\r\n--------------------------d74496d66958873e--\r\n"
    )
    assert is_one_click(
        b"multipart/form-data; boundary=------------------------d74496d66958873e", curl
    )
    quoted = b'multipart/form-data; boundary="abc:def"'
    typed = (
        b"--abc:def\r\ncontent-type: text/plain; charset=UTF-8\r\n"
        b'content-disposition:form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--abc:def--'
    )
    assert is_one_click(quoted, typed)
    assert is_one_click(b"application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click")
    for taken in [
        (b"application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click"),
        (quoted, typed),
        (content_type, body),
    ]:
        assert route_fields(*taken) == ONE_FIELD


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (b"application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click&scope=all"),
        (b"application/x-www-form-urlencoded", b"list-unsubscribe=One-Click"),
        (b"application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click\r\n"),
        (b"text/plain", b"List-Unsubscribe=One-Click"),
        (b"", b"List-Unsubscribe=One-Click"),
        (b"multipart/form-data", b"--b\r\n"),
        (b"multipart/form-data; boundary=b", b"List-Unsubscribe=One-Click"),
        (
            b"multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"; filename="x"\r\n'
            b"\r\nOne-Click\r\n--b--\r\n",
        ),
        (
            b"multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="LIST-UNSUBSCRIBE"\r\n'
            b"\r\nOne-Click\r\n--b--\r\n",
        ),
        (
            b"multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n'
            b"\r\nOne-Click\r\n--b\r\nContent-Disposition: form-data; name=scope\r\n"
            b"\r\nnewsletter\r\n--b--\r\n",
        ),
    ],
)
def test_anything_else_goes_to_the_route(content_type: bytes, body: bytes) -> None:
    assert not is_one_click(content_type, body)


BOUNDARIES = st.sampled_from(["b", "abc:def", "----x7MA4YWxkTrZu0gW", "a b", "x" * 71])
DISPOSITIONS = st.sampled_from(
    [
        'form-data; name="List-Unsubscribe"',
        "form-data; name=List-Unsubscribe",
        'form-data; name="list-unsubscribe"',
        'form-data; name="List-Unsubscribe"; filename="a.txt"',
        'Form-Data; name="List-Unsubscribe"',
        'form-data;name="List-Unsubscribe"',
        'form-data; name="List-Unsubscribe" ',
        'form-data; name="scope"',
    ]
)
HEADER_NAMES = st.sampled_from(
    ["Content-Disposition", "content-disposition", "CONTENT-DISPOSITION"]
)
EXTRA_HEADERS = st.lists(
    st.sampled_from(
        [
            "Content-Type: text/plain",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Type: application/octet-stream",
            "Content-Transfer-Encoding: base64",
            "X-Other: 1",
            "",
        ]
    ),
    max_size=2,
)
VALUES = st.sampled_from(["One-Click", "one-click", "One-Click ", "", "One-Click\r\n", "T25l"])
ENDINGS = st.sampled_from(["--\r\n", "--", "--\r\n\r\n", "\r\n", "--epilogue", ""])


@st.composite
def multipart(draw: st.DrawFn) -> tuple[bytes, bytes]:
    boundary = draw(BOUNDARIES)
    quoted = draw(st.booleans())
    param = f'"{boundary}"' if quoted else boundary
    content_type = draw(
        st.sampled_from(
            [
                f"multipart/form-data; boundary={param}",
                f"Multipart/Form-Data; boundary={param}",
                f"multipart/form-data;boundary={param}",
                f"multipart/form-data; boundary={param}; charset=utf-8",
            ]
        )
    )
    space = draw(st.sampled_from([" ", "", "  ", "\t"]))
    disposition = f"{draw(HEADER_NAMES)}:{space}{draw(DISPOSITIONS)}"
    headers = draw(EXTRA_HEADERS)
    headers.insert(draw(st.integers(0, len(headers))), disposition)
    preamble = draw(st.sampled_from(["", "preamble\r\n", "\r\n"]))
    body = (
        f"{preamble}--{boundary}\r\n" + "\r\n".join(headers) + "\r\n\r\n"
        f"{draw(VALUES)}\r\n--{boundary}{draw(ENDINGS)}"
    )
    return content_type.encode(), body.encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(multipart())
@example(
    (
        b"multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n'
        b"\r\nOne-Click\r\n--b--\r\n",
    )
)
def test_whatever_it_takes_the_route_reads_as_one_click(sent: tuple[bytes, bytes]) -> None:
    content_type, body = sent
    if is_one_click(content_type, body):
        assert route_fields(content_type, body) == ONE_FIELD
