"""Running the web app: uvicorn with its own access log off (it would log tokens) and ours on."""

from __future__ import annotations

import gc
import logging
from typing import Any

import uvicorn

from listonosz.config import Settings
from listonosz.web.app import create_app


def uvicorn_options(
    host: str = "127.0.0.1", port: int = 8000, forwarded_allow_ips: str = "127.0.0.1"
) -> dict[str, Any]:
    """uvicorn's settings for the app (``benchmarks/web.py`` serves its baseline with them)."""
    return {
        "host": host,
        "port": port,
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": forwarded_allow_ips,
        "server_header": False,
        "log_level": "info",
    }


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    forwarded_allow_ips: str = "127.0.0.1",
) -> None:
    """Serve until interrupted. Behind a reverse proxy on ``forwarded_allow_ips``, the
    ``X-Forwarded-Proto`` header says whether the visitor came over HTTPS (then HSTS is sent)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # the format shows neither: a record without them costs half (the access log's share)
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    app = create_app(settings)
    # What is loaded by now (about 180,000 objects: FastAPI, SQLAlchemy, pydantic, the app)
    # lives as long as the process: kept out of the cyclic garbage collector, whose full
    # collections would otherwise walk all of it (100-180 ms on this machine) and hold up
    # every request meanwhile.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, **uvicorn_options(host, port, forwarded_allow_ips))
