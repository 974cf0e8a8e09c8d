"""The gidgethub client we use: API version pinned, calls counted and logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import gidgethub
import gidgethub.aiohttp

logger = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
USER_AGENT = "self-healing-code"
# Wait out a secondary rate limit or a GitHub hiccup this often, this long.
MAX_RETRIES = 2
MAX_WAIT_SECONDS = 60.0
RETRY_STATUSES = {500, 502, 503, 504}
IDEMPOTENT_METHODS = {"GET", "PUT", "PATCH", "DELETE"}


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

    async def handle_rate_limit_error(
        self,
        *,
        method: str,
        url: str,
        exception: gidgethub.HTTPException,
        attempt: int,
    ) -> bool:
        """Wait and retry a rate-limited or failing call, a bounded number of times.

        https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately
        """
        status = int(exception.status_code)
        limited = isinstance(exception, gidgethub.RateLimitExceeded) or (
            status == 403 and "retry-after" in exception.headers
        )
        # A rate-limited call was refused, so any method may go again; after a
        # 5xx a POST may have landed, and a second one would make a duplicate.
        retry_broken = status in RETRY_STATUSES and method in IDEMPOTENT_METHODS
        if attempt > MAX_RETRIES or not (limited or status == 429 or retry_broken):
            return False
        wait = _seconds_to_wait(exception.headers, attempt)
        if wait > MAX_WAIT_SECONDS:
            return False
        logger.warning(
            "github.retrying",
            extra={"method": method, "url": url, "status": status, "wait": wait},
        )
        await self.sleep(wait)
        return True

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


def _seconds_to_wait(headers: Mapping[str, str], attempt: int) -> float:
    """GitHub's `retry-after`, else until the limit resets, else a short backoff."""
    retry_after = headers.get("retry-after", "")
    if retry_after.isdigit():
        return float(retry_after)
    reset = headers.get("x-ratelimit-reset", "")
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(0.0, int(reset) - time.time())
    return float(2 ** (attempt - 1))
