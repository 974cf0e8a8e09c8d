"""GET /setup and /setup/callback: register the GitHub App from its manifest."""

from __future__ import annotations

from aiohttp import web

from .settings import Settings


def add_routes(app: web.Application, settings: Settings) -> None:
    """Set-up pages; a configured app serves none (see issue 5)."""
    del app, settings
