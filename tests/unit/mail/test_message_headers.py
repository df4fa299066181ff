"""Header lines always valid: within 998 octets (folded at 78), and no text a decoder would
take for an RFC 2047 encoded word ever written as it is.

Display names written as encoded words are checked with ``email.header`` (an RFC 2047 section
6.2 decoder). Python 3.11's address parser keeps the folding space between two encoded words
of one display name (CPython gh-128110, fixed in later releases), so from it we only require one
address, the right one, and the same characters but for white space.
"""

from __future__ import annotations

import dataclasses
import email.policy
import random
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from listonosz.mail import CommonHeaders, HeaderInjectionError, MessageSkeleton
from tests.unit.mail.test_message import COMMON, DATE, PERSONAL

TO_EMAIL = PERSONAL.to_email
TEXT, HTML = "Szanowna Pani,\n\nzapraszamy.\n", "<p>Szanowna Pani,</p><p>zapraszamy.</p>"
INJECTION = "=?utf-8?q?Jan=0D=0ABcc=3A_victim=40evil-example?="
LONG_NAME = "A" * 100_000


def build(common: CommonHeaders = COMMON, **personal: str) -> bytes:
    return MessageSkeleton(common).build(
        dataclasses.replace(PERSONAL, **personal), TEXT, HTML, DATE
    )


def parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def head(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def raw(data: bytes, name: str) -> str:
    """A header as written, unfolded, not decoded."""
    value = email.message_from_bytes(data, policy=email.policy.compat32)[name]
    return " ".join(str(value).split())


def assert_lines_fit(data: bytes) -> None:
    """Every line within 998 octets, and every header line within 78 but the unsubscribe
    links, which are written whole."""
    assert data.isascii()
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    folded = [line for line in head(data) if b"<https://" not in line and b"<mailto:" not in line]
    assert max(len(line) for line in folded) <= 78, max(folded, key=len)[:100]


def assert_mailbox(data: bytes, name: str, display: str, address: str) -> None:
    """One address, the right one, whose display name decodes to exactly ``display``."""
    header = parse(data)[name]
    assert len(header.addresses) == 1
    assert header.addresses[0].addr_spec == address
    parsed = header.addresses[0].display_name
    assert "\r" not in parsed and "\n" not in parsed
    written = raw(data, name)
    if "=?utf-8?q?" in written:
        assert written.startswith("=?utf-8?q?")  # encoded whole, no raw text a decoder trips on
        assert str(make_header(decode_header(written))) == f"{display} <{address}>"
        assert "".join(parsed.split()) == "".join(display.split())  # gh-128110, see above
    else:
        assert parsed == display


@pytest.mark.parametrize("name", [LONG_NAME, "Ż" * 10_000, "Jan " + "Kowalski-" * 11_000])
def test_a_100000_character_name_and_subject_stay_within_78_columns(name: str) -> None:
    data = build(to_name=name, subject=f"Zaproszenie dla {name}")
    assert_lines_fit(data)
    message = parse(data)
    assert message["Subject"] == f"Zaproszenie dla {name}"
    assert_mailbox(data, "To", name, TO_EMAIL)
    assert message.defects == []


@pytest.mark.parametrize(
    "text",
    [
        INJECTION,
        "=?utf-8?b?SmFuDQpCY2M6IHZpY3RpbUBldmlsLWV4YW1wbGU=?=",
        "Jan =?utf-8?q?Kowalski?=",
        "Jan=?Kowalski",
        "Kowalski, Jan =?x",
        "Jan Kowalski ?= =?",
    ],
)
def test_text_that_looks_like_an_encoded_word_is_encoded(text: str) -> None:
    data = build(to_name=text, subject=text)
    assert text not in data.decode("ascii")
    assert_lines_fit(data)
    message = parse(data)
    assert message["Subject"] == text
    assert_mailbox(data, "To", text, TO_EMAIL)
    assert "Bcc" not in message and "victim" not in str(message["To"].addresses[0].addr_spec)


def test_sender_and_list_names_that_look_encoded_are_encoded() -> None:
    common = dataclasses.replace(COMMON, from_name=INJECTION, list_name=INJECTION)
    data = build(common)
    assert INJECTION not in data.decode("ascii")
    assert_mailbox(data, "From", INJECTION, COMMON.from_email)
    assert str(make_header(decode_header(raw(data, "List-Id")))) == (
        f"{INJECTION} <{COMMON.list_id}>"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to_email", "a" * 990 + "@example.pl"),
        ("unsubscribe_url", "https://zaproszenia.rops-bialystok.example/u/" + "t" * 990),
        ("unsubscribe_mailto", "mailto:biuro@rops-bialystok.example?subject=" + "u" * 990),
        ("message_id", "<" + "m" * 990 + "@rops-bialystok.example>"),
    ],
)
def test_values_that_cannot_be_folded_are_refused_when_too_long(field: str, value: str) -> None:
    with pytest.raises(HeaderInjectionError):
        build(**{field: value})


def test_a_list_id_or_attachment_names_too_long_for_a_line_are_refused() -> None:
    with pytest.raises(HeaderInjectionError):
        build(dataclasses.replace(COMMON, list_id="l" * 990 + ".example"))

    @dataclasses.dataclass
    class Attachment:
        filename: str
        content_type: str
        data: bytes

    skeleton = MessageSkeleton(COMMON)
    for attachment in (
        Attachment("z" * 990 + ".ics", "text/calendar", b"x"),
        Attachment("zaproszenie.ics", "text/" + "c" * 990, b"x"),
    ):
        with pytest.raises(HeaderInjectionError):
            skeleton.build(PERSONAL, TEXT, HTML, DATE, [attachment])


ALPHABET = [
    *"abcXYZ019 ",
    *"ąęśćźżńółĄŚŻ",
    *"\"\\'(),.:;<>@[]_-=?!#~\t",
    "=?",
    "?=",
    "=?utf-8?q?",
    "?q?",
    "=0D=0A",
    "🙂",
    "—",
    "\x00",
    "\x7f",
]


def _random_text(rng: random.Random) -> str:
    """Short or long, with spaces or one word without them, of anything but CR and LF."""
    pieces = [rng.choice(ALPHABET) for _ in range(rng.choice((1, 5, 20, 80, 400)))]
    if rng.random() < 0.25:
        pieces.append("w" * rng.randint(60, 2000))  # a long word without spaces
    rng.shuffle(pieces)
    return "".join(pieces)


@pytest.mark.parametrize("seed", range(40))
def test_any_text_gives_valid_lines_and_reads_back_exactly(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(10):
        name, subject = _random_text(rng), _random_text(rng)
        from_name = _random_text(rng)
        data = build(
            dataclasses.replace(COMMON, from_name=from_name), to_name=name, subject=subject
        )
        assert_lines_fit(data)
        message = parse(data)
        assert message["Subject"] == subject
        assert_mailbox(data, "To", name, TO_EMAIL)
        assert_mailbox(data, "From", from_name, COMMON.from_email)


def test_ordinary_names_and_subjects_are_written_as_they_are() -> None:
    data = build(to_name="Jan Kowalski", subject="Zaproszenie na seminarium 7 IX 2016 r.")
    assert b"\r\nTo: Jan Kowalski <" in data or data.startswith(b"To: Jan Kowalski <")
    assert b"Subject: Zaproszenie na seminarium 7 IX 2016 r.\r\n" in data
    data = build(to_name="Dr. Jan Kowalski, Wójt")
    assert raw(data, "To").startswith("=?utf-8?q?")
    data = build(to_name='Kowalski, "Jan"')
    assert raw(data, "To") == f'"Kowalski, \\"Jan\\"" <{TO_EMAIL}>'


def test_such_messages_arrive_intact_through_a_real_smtp_server(capture) -> None:
    from listonosz.config import TransportSettings
    from listonosz.transports import Outgoing
    from listonosz.transports.smtp import SmtpTransport

    messages = [
        Outgoing(f"k{n}", COMMON.from_email, TO_EMAIL, data=data)
        for n, data in enumerate(
            (
                build(to_name=LONG_NAME, subject=f"Zaproszenie dla {LONG_NAME}"),
                build(to_name=INJECTION, subject=INJECTION),
            )
        )
    ]
    transport = SmtpTransport(TransportSettings(port=capture.port, retries=0))
    try:
        results = transport.send_batch(messages)
    finally:
        transport.close()
    assert [r.status for r in results] == ["sent", "sent"], [r.detail for r in results]
    received = sorted((p.read_bytes() for p in capture.messages()), key=len, reverse=True)
    assert received == [m.data for m in messages]
    assert parse(received[0])["Subject"] == f"Zaproszenie dla {LONG_NAME}"
    assert_mailbox(received[1], "To", INJECTION, TO_EMAIL)


def test_the_whole_pipeline_sends_a_100000_character_first_name(tmp_path: Path, capture) -> None:
    from listonosz.campaign import load_campaign
    from listonosz.config import Settings, TransportSettings
    from listonosz.contacts.model import Contact
    from listonosz.sending import MessageFactory, prepare_messages
    from listonosz.transports.smtp import SmtpTransport
    from tests.conftest import CAMPAIGN

    factory = MessageFactory(load_campaign(CAMPAIGN), "invitation", Settings(var_dir=tmp_path))
    contact = Contact(TO_EMAIL, LONG_NAME, "Kowalski", gender="f", groups=("jst",))
    ready = prepare_messages(factory, [contact], mime=True)
    transport = SmtpTransport(TransportSettings(port=capture.port, retries=0))
    try:
        results = transport.send_batch([r.outgoing() for r in ready])
    finally:
        transport.close()
    assert [r.status for r in results] == ["sent"], [r.detail for r in results]
    [stored] = capture.messages()
    data = stored.read_bytes()
    assert_lines_fit(data)
    assert_mailbox(data, "To", f"{LONG_NAME} Kowalski", TO_EMAIL)


def _with_line(octets: int) -> bytes:
    """A small valid message whose body has one line of ``octets`` octets."""
    return (
        f"From: {COMMON.from_email}\r\nTo: {TO_EMAIL}\r\nSubject: x\r\n\r\n{'y' * octets}\r\nok\r\n"
    ).encode("ascii")


def test_the_dry_run_fails_a_line_a_server_would_refuse(tmp_path: Path) -> None:
    from listonosz.transports import Outgoing
    from listonosz.transports.outbox import OutboxTransport

    outbox = OutboxTransport(tmp_path)
    results = outbox.send_batch(
        [
            Outgoing("fits", COMMON.from_email, TO_EMAIL, data=_with_line(998)),
            Outgoing("long", COMMON.from_email, TO_EMAIL, data=_with_line(999)),
            Outgoing("huge", COMMON.from_email, TO_EMAIL, data=_with_line(100_000)),
        ]
    )
    assert [(r.key, r.status) for r in results] == [
        ("fits", "sent"),
        ("long", "failed"),
        ("huge", "failed"),
    ]
    assert results[1].detail.startswith("500 line too long: line 5 has 999 octets")
    assert "100,000 octets" in results[2].detail
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fits.eml"]


def test_the_capture_server_refuses_a_line_a_server_would_refuse(capture) -> None:
    import smtplib

    with smtplib.SMTP("127.0.0.1", capture.port, timeout=10) as client:
        client.sendmail(COMMON.from_email, [TO_EMAIL], _with_line(998))
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(COMMON.from_email, [TO_EMAIL], _with_line(999))
    assert refused.value.smtp_code == 500
    assert [p.read_bytes() for p in capture.messages()] == [_with_line(998)]


def test_huge_names_are_encoded_without_being_cached() -> None:
    from listonosz.mail.message import encoded_words

    skeleton = MessageSkeleton(COMMON)
    encoded_words.cache_clear()
    huge = dataclasses.replace(PERSONAL, to_name="Ż" * 100_000, subject="Ż" * 100_000)
    skeleton.build(huge, TEXT, HTML, DATE)
    assert encoded_words.cache_info().currsize == 0
    skeleton.build(PERSONAL, TEXT, HTML, DATE)
    assert encoded_words.cache_info().currsize == 2  # the ordinary name and Polish subject
