"""Assembling one recipient's message as RFC 5322 bytes, fast and correct.

Python's ``email`` package costs milliseconds per message. Here the parts that are the same for
every recipient of a message kind (sender, list headers, MIME structure) are built once into a
:class:`MessageSkeleton`; per recipient only the personal headers are encoded and the bodies
quoted-printable encoded (``binascii``, in C). The tests parse every message back with the
``email`` package and compare it with what the package itself builds.

Boundaries start with ``=_``: that sequence cannot occur in quoted-printable or base64 text,
so a constant boundary is safe.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.charset import Charset
from email.utils import format_datetime, formataddr
from functools import lru_cache
from typing import Protocol

from listonosz.errors import ListonoszError

CRLF = "\r\n"
MAX_HEADER_LINE = 78  # where headers are folded (RFC 5322 2.1.1 "SHOULD")
MAX_LINE = 998  # no line may be longer, CRLF excluded (RFC 5322 2.1.1 "MUST")
_ALT_BOUNDARY = "=_listonosz_alt"
_MIX_BOUNDARY = "=_listonosz_mix"
# RFC 2047 section 5(3): in a phrase only these may stand unencoded inside an encoded word.
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+"
# Atoms separated by single spaces: a phrase written as is reads back exactly.
_ATOMS = re.compile(rf"{_ATEXT}(?: {_ATEXT})*")
_QUOTABLE = re.compile(r"[\t -~]*")
# A word that even a line of its own cannot hold within 78 columns (after the fold's space).
_LONG_WORD = re.compile(rf"[^ ]{{{MAX_HEADER_LINE - 1}}}")
_EW_PREFIX, _EW_SUFFIX = "=?utf-8?q?", "?="
_EW_MAX = 75
_UTF8 = Charset("utf-8")
_MAX_URI = MAX_LINE - len("List-Unsubscribe: <>,")  # written whole, never folded inside


class HeaderInjectionError(ListonoszError, ValueError):
    """A header value carrying CR or LF, or an address or URI that is not what it claims."""


class Attachment(Protocol):
    """What the renderer attaches (for example the event's .ics file)."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class CommonHeaders:
    """The parts of a message that are the same for every recipient of one message kind."""

    from_name: str
    from_email: str
    list_name: str  # the list's name, shown by mail clients (RFC 2919 phrase)
    list_id: str  # the list's identifier, e.g. "ekonomia-2016.rops-bialystok.example"
    campaign_id: str
    reply_to: str | None = None
    sender_email: str | None = None  # the Sender: header, when it differs from From
    auto_submitted: bool = False  # RFC 3834: set for messages no person started (schedules)


@dataclass(frozen=True, slots=True)
class PersonalHeaders:
    """The parts of a message that belong to one recipient."""

    to_name: str
    to_email: str
    subject: str
    message_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str


def _check(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjectionError(f"header {name} contains a line break: {value!r}")
    return value


def _uri(name: str, value: str) -> str:
    """A URI written whole on one line: ``List-Unsubscribe: <uri>,`` stays within 998 octets."""
    if not value.isascii() or any(ch in value for ch in ' <>\r\n\t"') or len(value) > _MAX_URI:
        raise HeaderInjectionError(f"header {name}: not a plain ASCII URI: {value[:200]!r}")
    return value


def _addr_spec(name: str, value: str) -> str:
    """A plain address of at most 254 octets, the most SMTP carries (RFC 5321 4.5.3.1.3)."""
    if (
        not value.isascii()
        or value.count("@") != 1
        or any(c in value for c in ' <>\r\n\t,;"')
        or len(value) > 254
    ):
        raise HeaderInjectionError(f"header {name}: not a plain ASCII address: {value[:300]!r}")
    return value


def _q_word(chunk: bytes) -> str:
    return "".join(chr(b) if b in _Q_SAFE else ("_" if b == 32 else f"={b:02X}") for b in chunk)


@lru_cache(maxsize=4096)
def encoded_words(text: str, first_room: int) -> tuple[str, ...]:
    """``text`` as RFC 2047 Q encoded words of at most 75 characters, split between characters.

    ``first_room`` is how much of the first header line is left for the first word.
    """
    words: list[str] = []
    room = min(_EW_MAX, first_room) - len(_EW_PREFIX) - len(_EW_SUFFIX)
    current = ""
    for char in text:
        piece = _q_word(char.encode("utf-8"))
        if len(current) + len(piece) > room and current:
            words.append(f"{_EW_PREFIX}{current}{_EW_SUFFIX}")
            current, room = "", _EW_MAX - len(_EW_PREFIX) - len(_EW_SUFFIX)
        current += piece
    words.append(f"{_EW_PREFIX}{current}{_EW_SUFFIX}")
    return tuple(words)


#: Longer texts are encoded without the cache: 4,096 huge names would hold gigabytes.
_CACHED_TEXT = 1000


def _fold(name: str, tokens: Sequence[str]) -> str:
    """``Name: tok tok`` with a CRLF SP fold wherever the next token would pass 78 columns."""
    start = f"{name}:"
    lines, line = [], start
    for token in tokens:
        if len(line) + 1 + len(token) > MAX_HEADER_LINE and line is not start:
            lines.append(line)
            line = ""
        line += f" {token}"
    lines.append(line)
    return (CRLF).join(lines) + CRLF


def _plain_words(value: str, first_room: int) -> Sequence[str] | None:
    """Non-empty ASCII ``value`` as words to write unencoded, or None when it must be encoded.

    Encoded are text that is not printable, that starts or ends with a space (parsers
    drop those), that holds ``=?`` (a decoder would take it for an encoded word: RFC 2047
    section 5 wants such text encoded), or that has a word too long to fold within 78
    columns: only encoded words can be split inside a word, and no line may pass 998 octets.
    """
    if "=?" in value or not value.isprintable() or value[0] == " " or value[-1] == " ":
        return None
    return _fitting(value, first_room)


def _fitting(value: str, first_room: int) -> Sequence[str] | None:
    """``value``'s words if each can be folded within 78 columns, else None."""
    if len(value) <= first_room:  # the usual case: all on the first line
        return (value,)
    first = value.find(" ")
    if not 0 <= first <= first_room or _LONG_WORD.search(value):
        return None
    return value.split(" ")


def unstructured(name: str, value: str) -> str:
    """A text header (Subject, List-Id…): plain when it can be, else RFC 2047 encoded words."""
    _check(name, value)
    room = MAX_HEADER_LINE - len(name) - 2
    if not value:
        return f"{name}: {CRLF}"
    words = _plain_words(value, room) if value.isascii() else None
    if words is None:
        encode = encoded_words if len(value) <= _CACHED_TEXT else encoded_words.__wrapped__
        words = encode(value, room)
    if len(words) == 1:  # what _fold makes of one word, sooner
        return f"{name}: {words[0]}{CRLF}"
    return _fold(name, words)


def _phrase(name: str, display: str) -> Sequence[str]:
    """A display name as header tokens: atoms, a quoted string, or RFC 2047 encoded words."""
    _check(name, display)
    room = MAX_HEADER_LINE - len(name) - 2
    if display.isascii() and "=?" not in display:
        if _ATOMS.fullmatch(display):
            words = _fitting(display, room)
            if words is not None:
                return words
        elif _QUOTABLE.fullmatch(display):
            quoted = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
            if len(quoted) <= room:
                return (quoted,)
    encode = encoded_words if len(display) <= _CACHED_TEXT else encoded_words.__wrapped__
    return encode(display, room)


def mailbox(name: str, display: str, address: str) -> str:
    """An address header: ``Name <addr>``, the name quoted or encoded as needed."""
    address = _addr_spec(name, address)
    if not display:
        return f"{name}: {address}{CRLF}"
    words = _phrase(name, display)
    if len(words) == 1 and len(name) + len(words[0]) + len(address) + 5 <= MAX_HEADER_LINE:
        return f"{name}: {words[0]} <{address}>{CRLF}"  # what _fold makes of it, sooner
    return _fold(name, [*words, f"<{address}>"])


def address_line(display: str, address: str) -> str:
    """``Name <addr>`` as one string, for mail APIs that parse it (Postmark, Mailgun).

    As ``email.utils.formataddr`` writes it, except that a name holding ``=?`` is RFC 2047
    encoded as well: written raw, the API would decode it into some other name (one with a
    line break, say) before it builds its own headers.
    """
    if "=?" in display:
        return f"{_UTF8.header_encode(display)} <{address}>"
    return formataddr((display, address))


def phrase_with_id(name: str, display: str, identifier: str) -> str:
    """``List-Id: Name <identifier>`` (RFC 2919): the name may be encoded, the id never."""
    if len(identifier) > 255 or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+", identifier):
        raise HeaderInjectionError(f"header {name}: not a plain identifier: {identifier!r}")
    return _fold(name, [*_phrase(name, display), f"<{identifier}>"])


def qp(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends and lines of at most 76 characters.

    The result ends with a line break only if ``text`` does; the CRLF before the next MIME
    boundary belongs to the boundary.
    """
    data = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    # b2a_qp writes its soft line breaks as bare LF when the text has no CRLF to copy.
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _base64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76))


def _attachment_part(attachment: Attachment) -> bytes:
    """The part's headers stay on lines of at most 998 octets: both names are 255 at most."""
    filename, content_type = attachment.filename, attachment.content_type
    if not filename.isascii() or any(c in filename for c in '"\\\r\n') or len(filename) > 255:
        raise HeaderInjectionError(
            f"attachment file name must be plain ASCII, 255 characters at most: {filename[:300]!r}"
        )
    if len(content_type) > 255:
        raise HeaderInjectionError(f"attachment content type too long: {content_type[:300]!r}")
    return (
        f"Content-Type: {_check('Content-Type', content_type)}; "
        f'name="{filename}"{CRLF}'
        f'Content-Disposition: attachment; filename="{filename}"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}"
    ).encode("ascii") + _base64_lines(attachment.data)


class MessageSkeleton:
    """Everything about a message kind that does not change per recipient, encoded once."""

    def __init__(self, sender: CommonHeaders) -> None:
        self.common = sender
        head = [mailbox("From", sender.from_name, sender.from_email)]
        if sender.sender_email and sender.sender_email != sender.from_email:
            head.append(mailbox("Sender", "", sender.sender_email))
        if sender.reply_to:
            head.append(mailbox("Reply-To", "", sender.reply_to))
        head.append(phrase_with_id("List-Id", sender.list_name, sender.list_id))
        head.append(f"List-Unsubscribe-Post: List-Unsubscribe=One-Click{CRLF}")
        if sender.auto_submitted:
            head.append(f"Auto-Submitted: auto-generated{CRLF}")
        head.append(unstructured("X-Listonosz-Campaign", sender.campaign_id))
        head.append(f"MIME-Version: 1.0{CRLF}")
        self._common = "".join(head).encode("ascii")
        self._alternative = (
            f'Content-Type: multipart/alternative; boundary="{_ALT_BOUNDARY}"{CRLF}'
        ).encode("ascii")
        self._text_head = (
            f'{CRLF}--{_ALT_BOUNDARY}{CRLF}Content-Type: text/plain; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
        ).encode("ascii")
        self._html_head = (
            f'--{_ALT_BOUNDARY}{CRLF}Content-Type: text/html; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
        ).encode("ascii")
        self._alt_end = f"--{_ALT_BOUNDARY}--{CRLF}".encode("ascii")
        self._mixed = (
            f'Content-Type: multipart/mixed; boundary="{_MIX_BOUNDARY}"{CRLF}{CRLF}'
            f"--{_MIX_BOUNDARY}{CRLF}"
        ).encode("ascii")
        self._mix_sep = f"--{_MIX_BOUNDARY}{CRLF}".encode("ascii")
        self._mix_end = f"--{_MIX_BOUNDARY}--{CRLF}".encode("ascii")

    def build(
        self,
        personal: PersonalHeaders,
        text: str,
        html: str,
        date: dt.datetime,
        attachments: Sequence[Attachment] = (),
    ) -> bytes:
        """The whole message: headers, then text and HTML alternatives, then attachments."""
        head = "".join(
            (
                mailbox("To", personal.to_name, personal.to_email),
                unstructured("Subject", personal.subject),
                f"Date: {format_datetime(date)}{CRLF}",
                f"Message-ID: {_message_id(personal.message_id)}{CRLF}",
                "List-Unsubscribe: "
                f"<{_uri('List-Unsubscribe', personal.unsubscribe_url)}>,{CRLF}"
                f" <{_uri('List-Unsubscribe', personal.unsubscribe_mailto)}>{CRLF}",
            )
        ).encode("ascii")
        alternative = b"".join(
            (
                self._alternative,
                self._text_head,
                qp(text),
                b"\r\n",
                self._html_head,
                qp(html),
                b"\r\n",
                self._alt_end,
            )
        )
        if not attachments:
            return b"".join((head, self._common, alternative))
        parts = [head, self._common, self._mixed, alternative]
        for attachment in attachments:
            parts += [self._mix_sep, _attachment_part(attachment)]
        parts.append(self._mix_end)
        return b"".join(parts)


def _message_id(value: str) -> str:
    if len(value) > 255 or not re.fullmatch(r"<[!-;=?-~]+@[A-Za-z0-9.-]+>", value):
        raise HeaderInjectionError(f"not a valid Message-ID: {value!r}")
    return value
