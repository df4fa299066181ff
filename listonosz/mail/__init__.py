"""Mail as bytes: RFC 5322 assembly from a per-kind skeleton, DKIM signing, and the signed
tokens of unsubscribe and RSVP links (which carry a delivery key, never an address)."""

from listonosz.mail.dkim import DkimSigner, SigningError
from listonosz.mail.links import (
    checkin_url,
    rsvp_url,
    sign_token,
    unsubscribe_url,
    verify_token,
)
from listonosz.mail.message import (
    MAX_LINE,
    Attachment,
    CommonHeaders,
    HeaderInjectionError,
    MessageSkeleton,
    PersonalHeaders,
    address_line,
)

__all__ = [
    "MAX_LINE",
    "Attachment",
    "CommonHeaders",
    "DkimSigner",
    "HeaderInjectionError",
    "MessageSkeleton",
    "PersonalHeaders",
    "SigningError",
    "address_line",
    "checkin_url",
    "rsvp_url",
    "sign_token",
    "unsubscribe_url",
    "verify_token",
]
