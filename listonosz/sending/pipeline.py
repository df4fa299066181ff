"""Who gets which message, and how one message is built: audience, plan, render, assemble.

:mod:`listonosz.sending.prepare` builds every message of a run with :class:`MessageFactory`, and
:mod:`listonosz.sending.batch` claims, sends and settles them. Prefect flows call these; so can
anything else. Nothing here imports Prefect.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from listonosz.campaign import Campaign, CampaignError
from listonosz.config import Settings
from listonosz.contacts.legal import newsletter_audience
from listonosz.contacts.merge import MergeResult, SourceList, merge_lists
from listonosz.contacts.model import Contact
from listonosz.mail import (
    CommonHeaders,
    DkimSigner,
    MessageSkeleton,
    PersonalHeaders,
    rsvp_url,
    unsubscribe_url,
)
from listonosz.render.environment import Links, MessageRenderer, RenderedMessage
from listonosz.store import Ledger, SuppressionList, delivery_key
from listonosz.tracking import verp_address
from listonosz.transports import Outgoing, Transport, make_transport
from listonosz.transports.base import MessageParts


def merge_audience(
    campaign: Campaign, suppression: SuppressionList | None = None, kind: str | None = None
) -> MergeResult:
    """Every contact list of the campaign merged into one audience, in its groups, without
    anyone on the suppression list (for message ``kind``: a newsletter also leaves out those
    who unsubscribed from newsletters only)."""
    lists = [
        SourceList(
            campaign.source_path(source),
            source.group,
            label=str(source.path),
            encoding=source.encoding,
            delimiter=source.delimiter,
            sheet=source.sheet,
            columns=source.columns,
            legal_basis=source.legal_basis,
        )
        for source in campaign.audience.sources
    ]
    result = merge_lists(lists)
    if campaign.audience.groups is not None:
        wanted = set(campaign.audience.groups)
        result.contacts = [c for c in result.contacts if wanted.intersection(c.groups)]
    if suppression is not None:
        newsletter = kind is not None and campaign.is_newsletter(kind)
        result.contacts, result.suppressed = suppression.filter(
            result.contacts, newsletter=newsletter
        )
    return result


@dataclass
class Plan:
    """Who is to receive one message kind now, and how many already have."""

    campaign_id: str
    kind: str
    recipients: list[Contact]
    audience_size: int
    already_settled: int
    without_consent: int = 0


def plan_delivery(
    campaign: Campaign, kind: str, audience: Sequence[Contact], ledger: Ledger
) -> Plan:
    """The audience (only those who consented, if the kind needs it) minus everyone whose
    message of this kind is already settled."""
    eligible = list(audience)
    if campaign.message(kind).consent_required:
        eligible = newsletter_audience(eligible)
    settled = ledger.settled_emails(campaign.id, kind)
    recipients = [contact for contact in eligible if contact.email not in settled]
    return Plan(
        campaign.id,
        kind,
        recipients,
        audience_size=len(eligible),
        already_settled=len(eligible) - len(recipients),
        without_consent=len(audience) - len(eligible),
    )


def message_id(key: str, domain: str) -> str:
    """The Message-ID of a ledger row: the same for every attempt, so clients fold resends."""
    return f"<{key}@{domain}>"


@dataclass(frozen=True, slots=True)
class Prepared:
    """One recipient's message, rendered and addressed, waiting for its claim."""

    key: str
    email: str
    groups: str
    personal: PersonalHeaders
    rendered: RenderedMessage


class MessageFactory:
    """Builds the messages of one message kind: render, address, assemble, sign.

    Everything per kind (compiled templates, header skeleton, DKIM key) is prepared once.
    """

    def __init__(
        self,
        campaign: Campaign,
        kind: str,
        settings: Settings,
        now: dt.datetime | None = None,
    ) -> None:
        self.campaign = campaign
        self.kind = kind
        self.settings = settings
        self.now = now or dt.datetime.now(dt.UTC)  # the calendar's DTSTAMP and the Date header
        self.public_url = settings.public_url
        self.renderer = MessageRenderer(
            campaign,
            kind,
            campaign.templates_dir,
            now=self.now,
            render_seconds=settings.render_seconds,
        )
        self.skeleton = MessageSkeleton(common_headers(campaign, kind))
        self.signer = DkimSigner(settings.dkim) if settings.dkim else None
        self._secret = settings.signing_secret()

    def links(self, contact: Contact, key: str | None = None) -> Links:
        """The signed unsubscribe and RSVP links of one recipient's message (``key``: its
        delivery key, when the caller has it already)."""
        key = key or delivery_key(self.campaign.id, self.kind, contact.email)
        return Links(
            unsubscribe=unsubscribe_url(self.public_url, self._secret, key),
            rsvp_yes=rsvp_url(self.public_url, self._secret, key, "yes"),
            rsvp_no=rsvp_url(self.public_url, self._secret, key, "no"),
        )

    def prepare(self, contact: Contact) -> Prepared:
        """Render one recipient's message and fix its headers; raises before anything is claimed."""
        key = delivery_key(self.campaign.id, self.kind, contact.email)
        links = self.links(contact, key)
        rendered = self.renderer.render(contact, links)
        sender = self.campaign.sender
        personal = PersonalHeaders(
            to_name=contact.full_name or contact.organisation,
            to_email=contact.email,
            subject=rendered.subject,
            message_id=message_id(key, sender.domain),
            unsubscribe_url=links.unsubscribe,
            unsubscribe_mailto=f"mailto:{sender.reply_to or sender.email}?subject=unsubscribe",
        )
        return Prepared(key, contact.email, ";".join(contact.groups), personal, rendered)

    def assemble(self, prepared: Prepared, date: dt.datetime) -> bytes:
        """The RFC 5322 bytes of a prepared message, DKIM-signed when a key is configured."""
        rendered = prepared.rendered
        data = self.skeleton.build(
            prepared.personal,
            rendered.text,
            rendered.html,
            date,
            rendered.attachments,
        )
        return self.signer.sign(data) if self.signer else data

    def parts(self, prepared: Prepared) -> MessageParts:
        """The message as HTTP mail APIs take it, with the headers the MIME form would carry."""
        common, personal = self.skeleton.common, prepared.personal
        headers = {
            "Message-ID": personal.message_id,
            "List-Id": f"{common.list_name} <{common.list_id}>",
            "List-Unsubscribe": f"<{personal.unsubscribe_url}>, <{personal.unsubscribe_mailto}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Listonosz-Campaign": common.campaign_id,
        }
        if common.auto_submitted:
            headers["Auto-Submitted"] = "auto-generated"
        rendered = prepared.rendered
        return MessageParts(
            from_name=common.from_name,
            from_email=common.from_email,
            to_name=personal.to_name,
            to_email=personal.to_email,
            subject=personal.subject,
            text=rendered.text,
            html=rendered.html,
            headers=headers,
            reply_to=common.reply_to,
            attachments=rendered.attachments,
        )

    def outgoing(self, prepared: Prepared, date: dt.datetime, mime: bool) -> Outgoing:
        """What a transport takes: MIME bytes for SMTP and the outbox, parts for HTTP APIs."""
        mail_from = self.envelope_from(prepared.key)
        if mime:
            data = self.assemble(prepared, date)
            return Outgoing(prepared.key, mail_from, prepared.email, data=data)
        return Outgoing(prepared.key, mail_from, prepared.email, parts=self.parts(prepared))

    def envelope_from(self, key: str) -> str:
        """MAIL FROM: the sender, or a signed VERP address naming the ledger row when bounces
        are kept (``bounces+<key>.<mac>@domain``, see :mod:`listonosz.tracking.verp`)."""
        bounce = self.campaign.sender.bounce_address
        if not bounce:
            return self.campaign.sender.email
        return verp_address(bounce, key, self._secret)


def common_headers(campaign: Campaign, kind: str) -> CommonHeaders:
    """The headers every recipient of one message kind shares."""
    sender = campaign.sender
    return CommonHeaders(
        from_name=sender.name,
        from_email=sender.email,
        list_name=campaign.event.title,
        list_id=f"{campaign.id}.{sender.domain}",
        campaign_id=campaign.id,
        reply_to=sender.reply_to,
        auto_submitted=campaign.message(kind).auto_submitted,
    )


def send_test_messages(
    campaign: Campaign,
    settings: Settings,
    transport: Transport,
    to_address: str,
    audience: Sequence[Contact],
    kinds: Sequence[str] | None = None,
) -> list[str]:
    """One sample of every message kind (or of ``kinds``), rendered for the first person of the
    audience and sent to a staff address with "[TEST]" in the subject. Nothing is claimed in
    the ledger."""
    if not audience:
        raise CampaignError(f"campaign {campaign.id!r} has nobody in its audience to render for")
    sample, lines = audience[0], []
    for kind in campaign.messages if kinds is None else kinds:
        factory = MessageFactory(campaign, kind, settings)
        prepared = factory.prepare(sample)
        token = f"test-{uuid.uuid4().hex}"
        personal = dataclasses.replace(
            prepared.personal,
            to_name="",
            to_email=to_address,
            subject=f"[TEST] {prepared.personal.subject}",
            message_id=message_id(token, campaign.sender.domain),
        )
        sample_message = dataclasses.replace(
            prepared, key=token, email=to_address, personal=personal
        )
        outgoing = factory.outgoing(sample_message, dt.datetime.now(dt.UTC), transport.wants_mime)
        (delivery,) = transport.send_batch([outgoing])
        lines.append(f"{kind}: {delivery.status} ({delivery.detail}), rendered for {sample.email}")
    return lines


def send_samples(
    campaign: Campaign, settings: Settings, address: str, kinds: Sequence[str] | None = None
) -> list[str]:
    """:func:`send_test_messages` through the campaign's transport (checked first): what
    ``listonosz send --test-to`` and the flow's ``test_to`` do. ``address`` is normalised."""
    transport_settings = settings.transport_settings(campaign.transport)
    transport = make_transport(transport_settings, settings.outbox_path(transport_settings))
    try:
        transport.check()
        audience = merge_audience(campaign).contacts
        return send_test_messages(campaign, settings, transport, address, audience, kinds)
    finally:
        transport.close()
