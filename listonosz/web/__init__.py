"""The web app recipients reach from their messages (``listonosz serve``): RSVP, unsubscribe,
one-click unsubscribe, a health check. Thin routes over the core."""

from listonosz.web.app import create_app, page_environment
from listonosz.web.security import MAX_BODY, shown_path
from listonosz.web.server import serve, uvicorn_options

__all__ = ["MAX_BODY", "create_app", "page_environment", "serve", "shown_path", "uvicorn_options"]
