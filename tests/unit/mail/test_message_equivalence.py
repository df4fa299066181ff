"""The fast assembler against Python's email package: the same message, in meaning, every time."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import random
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo

import pytest

from listonosz.mail import CommonHeaders, MessageSkeleton, PersonalHeaders

WORDS = [
    "Zaproszenie",
    "na",
    "seminarium",
    "„Ekonomia",
    "Społeczna”",
    "Białystok",
    "żółć",
    "gęślą",
    "jaźń",
    "Wójt",
    "Gminy",
    "Łapy",
    "Księże",
    "O'Brien",
    'cudzysłów"',
    "back\\slash",
    "a,b",
    "(nawias)",
    "<kąt>",
    "x@y",
    "taki;średnik",
    "–",
    "—",
    "ąęśćźżńół",
    "ĄĘŚĆŹŻŃÓŁ",
    "🙂",
    "=?",
    "?=",
    "_",
    "tab\there",
    "10:00",
    "a" * 90,
]
TEXT_LINES = [
    "Szanowna Pani,",
    "",
    ".",
    ".kropka na początku",
    "From the start",
    "ends with space ",
    "ends with tab\t",
    "ż" * 500,
    "x" * 1200,
    "=3D looks encoded",
    "<p>tag</p>",
    "\t",
    " ",
]


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


def _phrase(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _text(rng: random.Random) -> str:
    body = "\n".join(rng.choice(TEXT_LINES) for _ in range(rng.randint(0, 30)))
    return body + ("\n" if rng.random() < 0.7 else "")


def _reference(
    common: CommonHeaders,
    personal: PersonalHeaders,
    text: str,
    html: str,
    date: dt.datetime,
    attachments: list[Attachment],
) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["To"] = Address(personal.to_name, addr_spec=personal.to_email)
    msg["Subject"] = personal.subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = personal.message_id
    msg["From"] = Address(common.from_name, addr_spec=common.from_email)
    msg["Reply-To"] = common.reply_to
    msg["List-Id"] = f"{common.list_name} <{common.list_id}>"
    msg["X-Listonosz-Campaign"] = common.campaign_id
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for item in attachments:
        maintype, subtype = item.content_type.split(";")[0].split("/")
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename)
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


def _raw(raw: bytes, name: str) -> str:
    """A header as written, unfolded, not decoded."""
    return " ".join(str(email.message_from_bytes(raw, policy=email.policy.compat32)[name]).split())


def _decoded(raw: bytes, name: str) -> str:
    """A header decoded the RFC 2047 §6.2 way, from the bytes as written."""
    value = email.message_from_bytes(raw, policy=email.policy.compat32)[name]
    return str(make_header(decode_header(" ".join(str(value).split()))))


def _leaves(msg: EmailMessage) -> list[tuple[str, str | bytes]]:
    return [
        (part.get_content_type(), part.get_content())
        for part in msg.walk()
        if not part.is_multipart()
    ]


@pytest.mark.parametrize("seed", range(60))
def test_same_meaning_as_the_email_package(seed: int) -> None:
    rng = random.Random(seed)
    common = CommonHeaders(
        from_name=_phrase(rng, rng.randint(1, 6)),
        from_email="zaproszenia@rops-bialystok.example",
        list_name=_phrase(rng, rng.randint(1, 8)),
        list_id="ekonomia-spoleczna-2016.rops-bialystok.example",
        campaign_id="ekonomia-spoleczna-2016",
        reply_to="biuro@rops-bialystok.example",
    )
    personal = PersonalHeaders(
        to_name=_phrase(rng, rng.randint(0, 7)),
        to_email=f"osoba{seed}@gmina-{seed}.example.pl",
        subject=_phrase(rng, rng.randint(1, 25)),
        message_id=f"<{seed:040x}@rops-bialystok.example>",
        unsubscribe_url=f"https://listonosz.example.org/u/{'t' * rng.randint(10, 200)}",
        unsubscribe_mailto="mailto:biuro@rops-bialystok.example?subject=unsubscribe",
    )
    text, html = _text(rng), "<p>" + _text(rng).replace("\n", "<br>\n") + "</p>"
    date = dt.datetime(2016, 8, 20, 9, rng.randint(0, 59), tzinfo=ZoneInfo("Europe/Warsaw"))
    attachments = (
        [Attachment("zaproszenie.ics", "text/calendar", rng.randbytes(rng.randint(0, 3000)))]
        if rng.random() < 0.5
        else []
    )
    raw = MessageSkeleton(common).build(personal, text, html, date, attachments)
    ours = email.message_from_bytes(raw, policy=email.policy.default)
    reference = _reference(common, personal, text, html, date, attachments)

    assert raw.isascii() and all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert ours.defects == [] and all(not p.defects for p in ours.walk())

    # Headers decode to exactly what was given. (The email package is no oracle here: its own
    # folding drops a space from some of these subjects, e.g. seed 0.)
    assert ours["Subject"] == personal.subject
    for header, display, address in (
        (ours["From"], common.from_name, common.from_email),
        (ours["To"], personal.to_name, personal.to_email),
    ):
        assert len(header.addresses) == 1 and header.addresses[0].addr_spec == address
        if "=?utf-8?q?" not in _raw(raw, header.name):  # atoms or a quoted string
            assert header.addresses[0].display_name == display
        else:  # non-ASCII, "=?", or a word too long to fold: encoded words
            assert _decoded(raw, header.name) == f"{display} <{address}>"
    if "=?utf-8?q?" not in _raw(raw, "List-Id"):  # a phrase, quoted when it must be
        assert parseaddr(ours["List-Id"]) == (common.list_name, common.list_id)
    else:
        assert _decoded(raw, "List-Id") == f"{common.list_name} <{common.list_id}>"
    for name in ("Date", "Message-ID", "Reply-To", "X-Listonosz-Campaign"):
        assert ours[name] == reference[name], name

    # The MIME tree and every decoded body are the ones the email package builds; it adds a
    # final line break to a text that has none, ours keeps the text exactly as given.
    assert [p.get_content_type() for p in ours.walk()] == [
        p.get_content_type() for p in reference.walk()
    ]
    leaves, reference_leaves = _leaves(ours), _leaves(reference)
    assert [kind for kind, _ in leaves] == [kind for kind, _ in reference_leaves]
    for (kind, content), (_, expected) in zip(leaves, reference_leaves, strict=True):
        if isinstance(content, str):
            content, expected = content.replace("\r\n", "\n"), expected.replace("\r\n", "\n")
            assert content.rstrip("\n") == expected.rstrip("\n"), kind
        else:
            assert content == expected, kind
    text_part, html_part = (c.replace("\r\n", "\n") for _, c in leaves[:2])
    assert (text_part, html_part) == (text, html)
