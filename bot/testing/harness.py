"""The bot as a real loopback server wired to the stand-ins.

Used by the end-to-end tests and by `self-heal demo`, so both run the same
path: webhooks signed and schema-checked, the forwarder handler called as
Lambda would call it, and the worker drained before anything is asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import boto3
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lambda_forwarder.delivery import close_connections
from lambda_forwarder.handler import forward
from lambda_forwarder.settings import Settings as ForwarderSettings

from ..app import WORKER_KEY, make_app
from ..fixing.bedrock import BedrockProvider
from ..services import SERVICES_KEY, Services
from ..settings import Settings
from . import webhooks
from .bedrock import FakeBedrock
from .github import FakeGitHub
from .loopback import start_on_loopback

APP_ID = 424242
WEBHOOK_SECRET = "stand-in-webhook-secret"
FORWARDER_KEY_ID = "stand-in-forwarder"
FORWARDER_SECRET = "stand-in-forwarder-secret"
MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def new_app_key() -> tuple[str, str]:
    """A throwaway RSA key pair for the stand-in app: (private, public) PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )
    return private, public


def stand_in_provider(endpoint_url: str) -> BedrockProvider:
    # The stand-in checks that a SigV4 signature is there, not whose it is.
    return BedrockProvider(
        region="us-east-1",
        endpoint_url=endpoint_url,
        session=boto3.session.Session(
            aws_access_key_id="stand-in", aws_secret_access_key="stand-in"
        ),
        max_attempts=2,
    )


@dataclass
class Harness:
    url: str
    app: web.Application
    settings: Settings
    github: FakeGitHub
    bedrock: FakeBedrock
    session: aiohttp.ClientSession

    @property
    def services(self) -> Services:
        return self.app[SERVICES_KEY]

    async def drain(self, timeout: float = 30.0) -> None:
        await self.app[WORKER_KEY].drain(timeout)

    async def webhook(
        self, event: str, payload: dict[str, Any], *, delivery_id: str | None = None
    ) -> aiohttp.ClientResponse:
        """Deliver a schema-checked, signed webhook; return the response."""
        return await webhooks.post(
            self.session,
            f"{self.url}/webhooks/github",
            self.settings.webhook_secret,
            event,
            payload,
            delivery_id=delivery_id or str(uuid.uuid4()),
        )

    async def forward(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run the forwarder handler on a subscription event, off the loop.

        The handler prints its one JSON log line, as on Lambda; here the line
        is kept out of the output and its record returned instead.
        """
        assert self.settings.forwarder_key_id and self.settings.forwarder_secret
        settings = ForwarderSettings(
            self.url, self.settings.forwarder_key_id, self.settings.forwarder_secret
        )

        def run() -> dict[str, Any]:
            with contextlib.redirect_stdout(io.StringIO()):
                return forward(event, settings=settings)

        return await asyncio.to_thread(run)


@contextlib.asynccontextmanager
async def running_bot(
    workdir: Path,
    *,
    github: FakeGitHub | None = None,
    bedrock: FakeBedrock | None = None,
    private_key: str | None = None,
) -> AsyncIterator[Harness]:
    """Start the stand-ins (unless given, already started) and the bot."""
    async with contextlib.AsyncExitStack() as stack:
        if github is None:
            private_key, public_key = new_app_key()
            github = FakeGitHub(APP_ID, public_key)
            await stack.enter_async_context(github.serve())
        if bedrock is None:
            bedrock = FakeBedrock()
            await stack.enter_async_context(bedrock.serve())
        assert private_key is not None, "give the private key of the given stand-in"
        settings = Settings(
            app_id=str(github.app_id),
            private_key=private_key,
            webhook_secret=WEBHOOK_SECRET,
            forwarder_key_id=FORWARDER_KEY_ID,
            forwarder_secret=FORWARDER_SECRET,
            model_id=MODEL_ID,
            database=str(workdir / "self-heal.sqlite3"),
            github_api_url=github.url,
            bedrock_endpoint_url=bedrock.url,
        )
        app = make_app(
            settings, provider=stand_in_provider(bedrock.url), sync_on_start=False
        )
        runner, url = await start_on_loopback(app)
        stack.push_async_callback(runner.cleanup)
        # The forwarder keeps its connection alive, as in a warm Lambda.
        stack.callback(close_connections)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        yield Harness(
            url=url,
            app=app,
            settings=settings,
            github=github,
            bedrock=bedrock,
            session=session,
        )
