"""What handlers and jobs share, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .fixing.providers import ModelProvider
from .github.auth import GitHubApp
from .queue import Queue
from .settings import Settings
from .store import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    queue: Queue
    github: GitHubApp
    provider: ModelProvider


SERVICES_KEY = web.AppKey("services", Services)
