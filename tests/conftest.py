"""Shared fixtures: an app key pair and started GitHub/Bedrock stand-ins."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import jwt
import pytest

from bot.testing.bedrock import FakeBedrock
from bot.testing.github import API_VERSION, FakeGitHub
from bot.testing.harness import new_app_key

APP_ID = 424242


@dataclass(frozen=True)
class AppKey:
    private_pem: str
    public_pem: str


def make_app_key() -> AppKey:
    """A fresh RSA 2048 key pair, PEM encoded."""
    return AppKey(*new_app_key())


def app_jwt(private_pem: str, app_id: int = APP_ID, *, lifetime: int = 540) -> str:
    """An app JWT the way GitHub documents it (iat backdated 60 s for clock drift)."""
    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + lifetime, "iss": str(app_id)}
    return jwt.encode(claims, private_pem, algorithm="RS256")


def github_headers(auth: str | None = None) -> dict[str, str]:
    """The headers every well-behaved GitHub client sends."""
    headers = {
        "Accept": "application/vnd.github+json",
        "User-Agent": "self-healing-code-tests",
        "X-GitHub-Api-Version": API_VERSION,
    }
    if auth:
        headers["Authorization"] = auth
    return headers


@pytest.fixture(scope="session")
def app_key() -> AppKey:
    return make_app_key()


@pytest.fixture
async def fake_github(app_key: AppKey) -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub(APP_ID, app_key.public_pem)
    async with fake.serve():
        yield fake
    assert fake.violations == [], "\n".join(fake.violations)


@pytest.fixture
async def fake_bedrock() -> AsyncIterator[FakeBedrock]:
    fake = FakeBedrock()
    async with fake.serve():
        yield fake
    assert fake.violations == [], "\n".join(fake.violations)


@pytest.fixture
async def bot(tmp_path, fake_github, fake_bedrock, app_key):
    """The bot as a real loopback server, wired to the stand-ins."""
    from bot.testing.harness import running_bot

    async with running_bot(
        tmp_path,
        github=fake_github,
        bedrock=fake_bedrock,
        private_key=app_key.private_pem,
    ) as harness:
        yield harness
