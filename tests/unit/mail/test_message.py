"""The MIME message: Polish text in headers and body, CRLF, List-Unsubscribe, header injection."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
from email.header import decode_header, make_header
from zoneinfo import ZoneInfo

import pytest

from listonosz.mail import CommonHeaders, HeaderInjectionError, MessageSkeleton, PersonalHeaders

DATE = dt.datetime(2016, 8, 20, 9, 30, tzinfo=ZoneInfo("Europe/Warsaw"))
UNSUBSCRIBE_URL = (
    "https://zaproszenia.rops-bialystok.example/u/"
    + "eyJwIjoidW5zdWJzY3JpYmUi" * 8
    + ".zs6GJIdxYsNRTigMQe760A"
)
MAILTO = "mailto:ekonomia.spoleczna@rops-bialystok.example?subject=unsubscribe"
SUBJECT = "Zaproszenie na seminarium „Ekonomia Społeczna w wymiarze lokalnym” – 7 września 2016 r."
FROM_NAME = "ROPS w Białymstoku"
TO_NAME = "Grażyna Żukowska"
MESSAGE_ID = "<3f2a9c1e0b7d4e5f8a6b@rops-bialystok.example>"

COMMON = CommonHeaders(
    from_name=FROM_NAME,
    from_email="zaproszenia@rops-bialystok.example",
    list_name="Ekonomia Społeczna w wymiarze lokalnym",
    list_id="ekonomia-spoleczna-2016.rops-bialystok.example",
    campaign_id="ekonomia-spoleczna-2016",
    reply_to="ekonomia.spoleczna@rops-bialystok.example",
)
PERSONAL = PersonalHeaders(
    to_name=TO_NAME,
    to_email="g.zukowska@starostwo-bielsk.example.pl",
    subject=SUBJECT,
    message_id=MESSAGE_ID,
    unsubscribe_url=UNSUBSCRIBE_URL,
    unsubscribe_mailto=MAILTO,
)
TEXT = (
    "Szanowna Pani,\n\n"
    "zapraszamy na seminarium w Białymstoku (ul. Książęca 1).\n"
    "Zażółć gęślą jaźń.\n"
)
HTML = (
    '<html><body><p style="font-family: Arial">Szanowna Pani,</p>'
    + "<p>zapraszamy na seminarium „Ekonomia Społeczna” – Hotel 3-Trio, Białystok.</p>" * 30
    + "</body></html>"
)


def build(common: CommonHeaders = COMMON, personal: PersonalHeaders = PERSONAL) -> bytes:
    return MessageSkeleton(common).build(personal, TEXT, HTML, DATE)


@pytest.fixture(scope="module")
def data() -> bytes:
    return build()


@pytest.fixture(scope="module")
def parsed(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def _raw_headers(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def _raw_header(data: bytes, name: str) -> str:
    """The header's value as written, unfolded, not decoded."""
    raw = email.message_from_bytes(data, policy=email.policy.compat32)[name]
    return "".join(str(raw).replace("\r\n", "\n").split("\n"))


def test_multipart_alternative_text_then_html(parsed: email.message.EmailMessage) -> None:
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    # the wire format is CRLF, and the parser keeps it in the decoded text
    text, html = (p.get_content().replace("\r\n", "\n") for p in parts)
    assert text == TEXT
    assert html == HTML


def test_body_parts_are_ascii_transfer_encoded(data: bytes, parsed) -> None:
    assert data.isascii()
    for part in parsed.iter_parts():
        assert part["Content-Transfer-Encoding"] in ("quoted-printable", "base64")


def test_subject_and_names_decode_to_polish(parsed: email.message.EmailMessage) -> None:
    assert parsed["Subject"] == SUBJECT
    assert parsed["From"].addresses[0].display_name == FROM_NAME
    assert parsed["From"].addresses[0].addr_spec == "zaproszenia@rops-bialystok.example"
    assert parsed["To"].addresses[0].display_name == TO_NAME
    assert parsed["To"].addresses[0].addr_spec == "g.zukowska@starostwo-bielsk.example.pl"
    assert parsed["Reply-To"] == "ekonomia.spoleczna@rops-bialystok.example"
    assert parsed["X-Listonosz-Campaign"] == "ekonomia-spoleczna-2016"


def test_raw_headers_are_ascii_with_encoded_words(data: bytes) -> None:
    headers = _raw_headers(data)
    assert headers.isascii()
    for name in ("Subject", "From", "To"):
        assert "=?utf-8?" in _raw_header(data, name).lower(), name
    assert "Białymstoku" not in headers.decode("ascii")


def test_long_display_names_decode_with_an_rfc2047_decoder() -> None:
    # Long names are folded into several encoded words; RFC 2047 §6.2 decoders join them.
    # (Python's own address parser keeps the fold's space between encoded words, so the
    # check uses email.header, which implements §6.2.)
    common = dataclasses.replace(
        COMMON, from_name="Regionalny Ośrodek Polityki Społecznej w Białymstoku – Zespół Ekonomii"
    )
    personal = dataclasses.replace(
        PERSONAL,
        to_name="Spółdzielnia Socjalna Osób Prawnych „Dobre Usługi”, Dobrzyniewo Duże",
    )
    data = build(common, personal)
    assert _raw_headers(data).isascii()
    for name, expected in (
        ("From", f"{common.from_name} <{common.from_email}>"),
        ("To", f"{personal.to_name} <{personal.to_email}>"),
    ):
        assert str(make_header(decode_header(_raw_header(data, name)))) == expected


def test_every_line_ends_with_crlf_and_is_short(data: bytes) -> None:
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")
    assert all(b"\r" not in line and b"\n" not in line for line in lines)
    assert max(len(line) for line in lines) <= 998
    # headers (but the URL) are folded at the usual 78 characters
    for line in _raw_headers(data).split(b"\r\n"):
        if UNSUBSCRIBE_URL.encode() not in line:
            assert len(line) <= 78, line


def test_list_unsubscribe_is_plain_ascii(data: bytes, parsed) -> None:
    raw = _raw_header(data, "List-Unsubscribe")
    assert raw.isascii()
    assert "=?" not in raw
    assert f"<{UNSUBSCRIBE_URL}>" in raw
    assert f"<{MAILTO}>" in raw
    assert raw.index("https://") < raw.index("mailto:")
    # the long URL is written whole, not folded inside
    assert f"<{UNSUBSCRIBE_URL}>".encode() in data
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_message_id_is_exactly_the_one_given(data: bytes, parsed) -> None:
    assert parsed["Message-ID"] == MESSAGE_ID
    assert _raw_header(data, "Message-ID") == MESSAGE_ID


def test_list_id_keeps_its_identifier_plain(data: bytes, parsed) -> None:
    assert "<ekonomia-spoleczna-2016.rops-bialystok.example>" in _raw_header(data, "List-Id")
    assert parsed["List-Id"] == f"{COMMON.list_name} <{COMMON.list_id}>"


def test_date_header(parsed) -> None:
    assert parsed["Date"].datetime == DATE


@pytest.mark.parametrize("bad", ["\r", "\n", "\r\n", "\r\nBcc: victim@example.com"])
@pytest.mark.parametrize("field", ["subject", "from_name", "to_name"])
def test_line_breaks_in_headers_are_refused(field: str, bad: str) -> None:
    with pytest.raises(HeaderInjectionError):
        if field == "from_name":
            build(common=dataclasses.replace(COMMON, from_name=f"Jan{bad}Kowalski"))
        elif field == "subject":
            build(personal=dataclasses.replace(PERSONAL, subject=f"Zaproszenie{bad}seminarium"))
        else:
            build(personal=dataclasses.replace(PERSONAL, to_name=f"Jan{bad}Kowalski"))


@pytest.mark.parametrize(
    "url",
    [
        "https://zaproszenia.rops-białystok.example/u/abc",
        "https://zaproszenia.rops-bialystok.example/u/ab c",
        "https://zaproszenia.rops-bialystok.example/u/abc>, <https://evil.example/",
        "https://zaproszenia.rops-bialystok.example/u/abc\r\nBcc: victim@example.com",
    ],
)
def test_unusable_unsubscribe_urls_are_refused(url: str) -> None:
    with pytest.raises(HeaderInjectionError):
        build(personal=dataclasses.replace(PERSONAL, unsubscribe_url=url))


def test_unusable_unsubscribe_mailto_is_refused() -> None:
    personal = dataclasses.replace(PERSONAL, unsubscribe_mailto="mailto:wypisz się@example.pl")
    with pytest.raises(HeaderInjectionError):
        build(personal=personal)


def test_header_injection_error_is_a_value_error() -> None:
    assert issubclass(HeaderInjectionError, ValueError)
