"""CSS inlining with premailer: mail clients ignore most of a ``<style>`` block."""

from __future__ import annotations

import logging

from premailer import Premailer


def inline_css(html: str) -> str:
    """Move the rules of ``<style>`` blocks into ``style`` attributes; keep @media rules."""
    return Premailer(
        html,
        remove_classes=False,
        keep_style_tags=False,
        strip_important=False,
        allow_network=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
    ).transform()
