"""``listonosz preview``: every rendered message as files staff can open before anything is sent.

For each recipient: ``NNN-address.html`` (what mail clients render), ``.txt`` (the plain-text
part) and ``.eml`` (the whole message, attachments included: open it in Thunderbird or
Outlook); with screenshots, ``NNN-address-600.png`` and ``-375.png``. ``index.html`` is a
gallery of them all. Links in previews are signed with a throw-away key, so they lead nowhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from listonosz.campaign import Campaign
from listonosz.contacts.model import Contact
from listonosz.mail import rsvp_url, unsubscribe_url
from listonosz.paths import private_dir
from listonosz.render.environment import MessageRenderer
from listonosz.render.model import Links, RenderedMessage
from listonosz.render.polish import plural_pl
from listonosz.render.salutations import salutation
from listonosz.render.screenshot import WIDTHS, screenshot

PREVIEW_URL = "https://listonosz.localhost"


@dataclass
class PreviewItem:
    """One recipient's preview files."""

    number: int
    contact: Contact
    subject: str
    salutation: str
    stem: str
    screenshots: dict[int, str] = field(default_factory=dict)


def preview_links(campaign: Campaign, kind: str) -> Callable[[Contact], Links]:
    """Links shaped like the real ones, signed with a key thrown away after the run."""
    secret = secrets.token_bytes(32)

    def links(contact: Contact) -> Links:
        key = hashlib.sha256(f"{campaign.id}\0{kind}\0{contact.email}".encode()).hexdigest()[:32]
        return Links(
            unsubscribe=unsubscribe_url(PREVIEW_URL, secret, key),
            rsvp_yes=rsvp_url(PREVIEW_URL, secret, key, "yes"),
            rsvp_no=rsvp_url(PREVIEW_URL, secret, key, "no"),
        )

    return links


def build_eml(campaign: Campaign, contact: Contact, message: RenderedMessage) -> bytes:
    """The message as a mail client would receive it (for opening, not for sending)."""
    sender = campaign.sender
    eml = EmailMessage(policy=policy.SMTP)
    eml["From"] = Address(sender.name, addr_spec=sender.email)
    eml["To"] = Address(contact.full_name or contact.organisation, addr_spec=contact.email)
    if sender.reply_to:
        eml["Reply-To"] = sender.reply_to
    eml["Subject"] = message.subject
    eml["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    eml["Message-ID"] = make_msgid("preview", sender.domain)
    eml["X-Listonosz-Preview"] = "yes"
    eml.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    eml.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in message.attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, *params = (p.strip() for p in rest.split(";"))
        eml.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
            params=dict(_param(p) for p in params if p and not p.startswith("charset")),
        )
    return eml.as_bytes()


def _param(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    return name.strip(), value.strip().strip('"')


def _stem(number: int, contact: Contact) -> str:
    return f"{number:03d}-{re.sub(r'[^a-z0-9]+', '-', contact.email.lower()).strip('-')}"


def write_previews(
    campaign: Campaign,
    kind: str,
    contacts: Sequence[Contact],
    out: Path,
    renderer: MessageRenderer | None = None,
    chromium: str | None = None,
    progress: Callable[[str], None] = lambda _line: None,
) -> list[PreviewItem]:
    """Write each contact's message and the gallery into ``out``; screenshots if ``chromium``."""
    renderer = renderer or MessageRenderer(campaign, kind, campaign.templates_dir)
    links = preview_links(campaign, kind)
    private_dir(out)  # the gallery names every recipient: a folder made here is 0700
    items: list[PreviewItem] = []
    for number, contact in enumerate(contacts, 1):
        message = renderer.render(contact, links(contact))
        item = PreviewItem(number, contact, message.subject, salutation(contact), "")
        item.stem = _stem(number, contact)
        (out / f"{item.stem}.html").write_text(message.html, encoding="utf-8")
        (out / f"{item.stem}.txt").write_text(message.text, encoding="utf-8")
        (out / f"{item.stem}.eml").write_bytes(build_eml(campaign, contact, message))
        for attachment in message.attachments:
            (out / attachment.filename).write_bytes(attachment.data)
        if chromium:
            for width in WIDTHS:
                png = out / f"{item.stem}-{width}.png"
                screenshot(chromium, out / f"{item.stem}.html", png, width)
                item.screenshots[width] = png.name
            progress(f"{item.stem}: screenshots at {', '.join(map(str, WIDTHS))} px")
        items.append(item)
    (out / "index.html").write_text(gallery(campaign, kind, items, renderer), encoding="utf-8")
    return items


def gallery(
    campaign: Campaign, kind: str, items: Sequence[PreviewItem], renderer: MessageRenderer
) -> str:
    """``index.html``: one card per recipient, with the message (or its screenshots) and files."""
    e = html.escape
    cards = []
    for item in items:
        c = item.contact
        who = c.full_name or c.organisation or c.email
        groups = ", ".join(c.group_labels)
        if item.screenshots:
            view = "".join(
                f'<a href="{e(png)}"><img src="{e(png)}" alt="Zrzut ekranu, szerokość {w} px" '
                f'width="{w // 2}" loading="lazy"></a>'
                for w, png in sorted(item.screenshots.items(), reverse=True)
            )
        else:
            view = (
                f'<iframe src="{e(item.stem)}.html" title="Podgląd: {e(who)}" loading="lazy">'
                "</iframe>"
            )
        cards.append(
            f"""<section class="card">
<h2>{item.number}. {e(who)}</h2>
<p class="meta">{e(c.email)}<br>{e(c.position)}{" · " if c.position else ""}{e(c.organisation)}
<br>Grupy: {e(groups) or "—"}</p>
<p><strong>Zwrot:</strong> {e(item.salutation)}<br><strong>Temat:</strong> {e(item.subject)}</p>
<p class="files"><a href="{e(item.stem)}.html">HTML</a> · <a href="{e(item.stem)}.txt">tekst</a>
 · <a href="{e(item.stem)}.eml">.eml</a></p>
<div class="view">{view}</div>
</section>"""
        )
    attachments = ", ".join(a.filename for a in renderer.attachments) or "brak"
    count = plural_pl(len(items), "wiadomość", "wiadomości", "wiadomości")
    return f"""<!DOCTYPE html>
<html lang="pl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Podgląd: {e(kind)} – {e(campaign.event.title)}</title>
<style>
body {{ margin: 0; padding: 24px; background: #eef1f5; color: #1a1a1a;
  font: 15px/1.5 Arial, Helvetica, sans-serif; }}
h1 {{ color: #1f3a5f; margin: 0 0 8px; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr));
  gap: 20px; margin-top: 20px; }}
.card {{ background: #fff; padding: 16px; border-top: 4px solid #1f3a5f; }}
.card h2 {{ font-size: 17px; margin: 0 0 6px; color: #1f3a5f; }}
.meta {{ color: #4a4f57; font-size: 13px; }}
.view iframe {{ width: 600px; height: 900px; border: 1px solid #d5dbe3; transform: scale(.5);
  transform-origin: 0 0; margin-bottom: -450px; }}
.view img {{ border: 1px solid #d5dbe3; margin-right: 8px; vertical-align: top; }}
a {{ color: #0b5cad; }}
</style>
</head>
<body>
<h1>{e(campaign.event.title)}: {e(kind)}</h1>
<p>{count} · kampania <code>{e(campaign.id)}</code> · CSS: {e(renderer.inline_note)}
 · załączniki: {e(attachments)}. Odnośniki w podglądzie są podpisane jednorazowym kluczem
 i nigdzie nie prowadzą.</p>
<div class="cards">
{"".join(cards)}
</div>
</body>
</html>
"""
