"""The gidgethub client we use: API version pinned, calls counted and logged."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import gidgethub.aiohttp

logger = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
USER_AGENT = "self-healing-code"


class CallCounter:
    """Count GitHub API calls, so a fix can report what it cost."""

    def __init__(self) -> None:
        self.total = 0
        self.by_route: dict[str, int] = {}
        self.rate_limit_remaining: int | None = None

    def add(self, method: str, url: str) -> None:
        self.total += 1
        route = f"{method} {url.split('?', 1)[0]}"
        self.by_route[route] = self.by_route.get(route, 0) + 1


class GitHubClient(gidgethub.aiohttp.GitHubAPI):
    """gidgethub over aiohttp, sending the REST API version on every call."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        oauth_token: str | None = None,
        app_id: str | None = None,
        private_key: str | None = None,
        cache: Any = None,
        counter: CallCounter | None = None,
    ) -> None:
        super().__init__(
            session,
            USER_AGENT,
            oauth_token=oauth_token,
            app_id=app_id,
            private_key=private_key,
            cache=cache,
            base_url=base_url,
        )
        self.counter = counter or CallCounter()

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        # https://docs.github.com/en/rest/about-the-rest-api/api-versions
        headers = {**headers, "x-github-api-version": API_VERSION}
        self.counter.add(method, url)
        status, response_headers, data = await super()._request(
            method, url, headers, body
        )
        remaining = response_headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.isdigit():
            self.counter.rate_limit_remaining = int(remaining)
        logger.debug(
            "github.call",
            extra={
                "method": method,
                "url": url,
                "status": status,
                "rate_limit_remaining": remaining,
            },
        )
        return status, response_headers, data
