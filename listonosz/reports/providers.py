"""Mailbox providers by address domain: where Polish recipients' mail actually lands."""

from __future__ import annotations

#: Domain → the provider staff know it by. Domains not listed are "inne" (other), except the
#: sender's own domains ("własna domena").
PROVIDERS: dict[str, str] = {
    **dict.fromkeys(("gmail.com", "googlemail.com"), "Gmail"),
    **dict.fromkeys(("wp.pl", "wp.eu"), "WP"),
    **dict.fromkeys(("onet.pl", "onet.eu", "op.pl", "vp.pl", "poczta.onet.pl", "spoko.pl"), "Onet"),
    **dict.fromkeys(("interia.pl", "interia.eu", "poczta.fm", "interia.com"), "Interia"),
    **dict.fromkeys(("o2.pl", "tlen.pl", "go2.pl", "prokonto.pl"), "O2"),
    **dict.fromkeys(("outlook.com", "outlook.pl", "hotmail.com", "live.com", "msn.com"), "Outlook"),
    **dict.fromkeys(("yahoo.com", "yahoo.pl"), "Yahoo"),
    **dict.fromkeys(("icloud.com", "me.com"), "iCloud"),
}
OWN = "własna domena"
OTHER = "inne"


def provider_of(email: str, own_domains: frozenset[str] = frozenset()) -> str:
    """The mailbox provider of an address (by its domain, subdomains of own domains included)."""
    domain = email.rsplit("@", 1)[-1].lower()
    if domain in own_domains or any(domain.endswith(f".{own}") for own in own_domains):
        return OWN
    return PROVIDERS.get(domain, OTHER)
