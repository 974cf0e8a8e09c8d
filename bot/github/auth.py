"""The GitHub App's credentials: app JWTs and cached installation tokens."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import aiohttp
import cachetools
import gidgethub.apps

from .client import CallCounter, GitHubClient

logger = logging.getLogger(__name__)

# Renew an installation token this long before GitHub says it expires, so a
# token never runs out in the middle of a fix.
TOKEN_RENEW_MARGIN = timedelta(minutes=5)
# Installation tokens live one hour; the cache never keeps one longer.
TOKEN_CACHE_TTL_SECONDS = 55 * 60
ETAG_CACHE_SIZE = 500


class GitHubApp:
    """Hand out clients authenticated as the app or as one installation.

    Each installation gets its own ETag cache, so a 304 can never serve one
    installation what another was allowed to read.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        app_id: str,
        private_key: str,
        base_url: str,
    ) -> None:
        self._session = session
        self.app_id = app_id
        self._private_key = private_key
        self.base_url = base_url
        self._tokens: cachetools.TTLCache[int, tuple[str, datetime]] = (
            cachetools.TTLCache(maxsize=10_000, ttl=TOKEN_CACHE_TTL_SECONDS)
        )
        self._etag_caches: cachetools.LRUCache[int, cachetools.LRUCache] = (
            cachetools.LRUCache(maxsize=10_000)
        )
        self.counter = CallCounter()

    def app_client(self) -> GitHubClient:
        """A client that signs every call with a fresh app JWT."""
        return GitHubClient(
            self._session,
            base_url=self.base_url,
            app_id=self.app_id,
            private_key=self._private_key,
            counter=self.counter,
        )

    def jwt(self) -> str:
        return gidgethub.apps.get_jwt(app_id=self.app_id, private_key=self._private_key)

    async def installation_client(self, installation_id: int) -> GitHubClient:
        token = await self.installation_token(installation_id)
        cache = self._etag_caches.get(installation_id)
        if cache is None:
            cache = self._etag_caches[installation_id] = cachetools.LRUCache(
                maxsize=ETAG_CACHE_SIZE
            )
        return GitHubClient(
            self._session,
            base_url=self.base_url,
            oauth_token=token,
            cache=cache,
            counter=self.counter,
        )

    async def installation_token(self, installation_id: int) -> str:
        cached = self._tokens.get(installation_id)
        now = datetime.now(UTC)
        if cached is not None and cached[1] - TOKEN_RENEW_MARGIN > now:
            return cached[0]
        response = await gidgethub.apps.get_installation_access_token(
            self.app_client(),
            installation_id=str(installation_id),
            app_id=self.app_id,
            private_key=self._private_key,
        )
        expires_at = datetime.fromisoformat(
            response["expires_at"].replace("Z", "+00:00")
        )
        self._tokens[installation_id] = (response["token"], expires_at)
        logger.info(
            "github.token_issued",
            extra={"installation_id": installation_id, "expires_at": str(expires_at)},
        )
        return response["token"]

    @property
    def rate_limit_remaining(self) -> int | None:
        return self.counter.rate_limit_remaining

    def forget_installation(self, installation_id: int) -> None:
        self._tokens.pop(installation_id, None)
        self._etag_caches.pop(installation_id, None)
