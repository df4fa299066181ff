"""MAIL FROM parameters of RFC 3461: the ledger key as ENVID (xtext), headers only returned,
and nothing for a server that does not offer DSN."""

from __future__ import annotations

import smtplib

from listonosz.transports.smtp import dsn_options, enhanced_status


class _Server(smtplib.SMTP):
    def __init__(self, extensions: dict[str, str]) -> None:
        super().__init__()
        self.esmtp_features = extensions


def test_envid_and_ret_hdrs_only_where_dsn_is_offered() -> None:
    key = "0f" * 20
    assert dsn_options(_Server({"dsn": "", "size": "10240000"}), key) == [
        f"ENVID={key}",
        "RET=HDRS",
    ]
    assert dsn_options(_Server({"size": "10240000"}), key) == []
    assert dsn_options(_Server({"dsn": ""}), "a+b=c d") == ["ENVID=a+2Bb+3Dc+20d", "RET=HDRS"]


def test_the_enhanced_status_of_a_reply() -> None:
    assert enhanced_status("550 5.1.1 <jan@x.pl>: User unknown") == "5.1.1"
    assert enhanced_status("550-5.7.26 Unauthenticated email is not accepted") == "5.7.26"
    assert enhanced_status("554 Transaction failed") == ""
