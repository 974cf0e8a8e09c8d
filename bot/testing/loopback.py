"""Serve an aiohttp app on a free 127.0.0.1 port: the stand-ins and the bot."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web


async def start_on_loopback(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start the app on a port the system picks; return the runner and base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


class LoopbackServer:
    """A server that subclasses describe with `make_app`."""

    url = ""
    _runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> str:
        self._runner, self.url = await start_on_loopback(self.make_app())
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        url = await self.start()
        try:
            yield url
        finally:
            await self.close()
