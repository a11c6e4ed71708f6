"""How uvicorn serves the dashboard: the one place its settings are chosen (`innspill
dashboard` and the tests that serve the app over real HTTP use it)."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp


def config(app: ASGIApp, *, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    """uvicorn's settings for the dashboard.

    No `Server` header (it names the software and its version to anyone who asks), and no
    proxy-header handling: uvicorn would take X-Forwarded-For from any loopback peer as the
    client, and the app trusts forwarded headers only from INNSPILL_TRUSTED_PROXIES.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
    )
