"""Our gidgethub client: the API version on every call, bounded retries."""

from __future__ import annotations

import aiohttp
import gidgethub
import pytest
from aiohttp import web

from bot.github import client as client_module
from bot.github.client import API_VERSION, GitHubClient


@pytest.fixture
async def flaky(aiohttp_server):
    """A server answering from a script of (status, headers) pairs."""
    script: list[tuple[int, dict[str, str]]] = []
    seen: list = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.copy())
        status, headers = script.pop(0) if script else (200, {})
        body = {"ok": True} if status == 200 else {"message": "slow down"}
        return web.json_response(body, status=status, headers=headers)

    app = web.Application()
    app.router.add_get("/thing", answer)
    app.router.add_post("/create", answer)
    return await aiohttp_server(app), script, seen


async def _get(server, monkeypatch) -> tuple[object, list[float]]:
    waits: list[float] = []

    async def no_sleep(self, seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(GitHubClient, "sleep", no_sleep)
    async with aiohttp.ClientSession() as session:
        gh = GitHubClient(session, base_url=str(server.make_url("")), oauth_token="t")
        return await gh.getitem("/thing"), waits


async def test_every_call_names_the_api_version(flaky, monkeypatch):
    server, _, seen = flaky
    assert (await _get(server, monkeypatch))[0] == {"ok": True}
    assert seen[0]["X-GitHub-Api-Version"] == API_VERSION


async def test_a_secondary_rate_limit_is_waited_out(flaky, monkeypatch):
    server, script, seen = flaky
    script.append((403, {"retry-after": "3"}))
    result, waits = await _get(server, monkeypatch)
    assert result == {"ok": True} and waits == [3.0] and len(seen) == 2


async def test_server_errors_back_off_then_give_up(flaky, monkeypatch):
    server, script, seen = flaky
    script.extend([(502, {}), (503, {}), (500, {})])
    with pytest.raises(gidgethub.GitHubBroken):
        await _get(server, monkeypatch)
    assert len(seen) == client_module.MAX_RETRIES + 1


async def test_a_long_wait_is_not_worth_it(flaky, monkeypatch):
    server, script, seen = flaky
    script.append((429, {"retry-after": "3600"}))
    with pytest.raises(gidgethub.BadRequest):
        await _get(server, monkeypatch)
    assert len(seen) == 1


async def test_other_client_errors_are_not_retried(flaky, monkeypatch):
    server, script, seen = flaky
    script.append((404, {}))
    with pytest.raises(gidgethub.BadRequest):
        await _get(server, monkeypatch)
    assert len(seen) == 1


async def test_a_post_that_met_a_server_error_is_not_sent_twice(flaky, monkeypatch):
    server, script, seen = flaky
    script.append((502, {}))

    async def no_sleep(self, seconds: float) -> None:
        pass

    monkeypatch.setattr(GitHubClient, "sleep", no_sleep)
    async with aiohttp.ClientSession() as session:
        gh = GitHubClient(session, base_url=str(server.make_url("")), oauth_token="t")
        with pytest.raises(gidgethub.GitHubBroken):
            await gh.post("/create", data={"x": 1})
    assert len(seen) == 1
