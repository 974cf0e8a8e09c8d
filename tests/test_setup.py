"""The set-up flow: manifest page, GitHub's round trip, credentials written once."""

from __future__ import annotations

import html
import json
import os
import re
import stat
from urllib.parse import parse_qs, urlsplit

import pytest

from bot import settings as s
from bot.app import make_app
from bot.setup import write_credentials
from bot.testing.contracts import require_contracts

FORM_RE = re.compile(r'<form action="([^"]+)" method="post">')
MANIFEST_RE = re.compile(r'name="manifest" value="([^"]+)"')
PUBLIC_URL = "https://heal.example.com"


def _form(text: str) -> tuple[str, dict]:
    """The form's target and the manifest it carries, as a browser would send."""
    action = html.unescape(FORM_RE.search(text).group(1))
    return action, json.loads(html.unescape(MANIFEST_RE.search(text).group(1)))


@pytest.fixture
def env(tmp_path, fake_github):
    return {
        s.CREDENTIALS_FILE_ENV: str(tmp_path / "credentials.json"),
        s.GITHUB_API_URL_ENV: fake_github.url,
        s.PUBLIC_URL_ENV: PUBLIC_URL,
        s.DATABASE_ENV: str(tmp_path / "db.sqlite3"),
    }


@pytest.fixture
async def client(aiohttp_client, env):
    settings = s.load_settings(env)
    assert isinstance(settings, s.SetupSettings)
    return await aiohttp_client(make_app(settings))


async def test_the_whole_flow_registers_the_app_once(client, env, fake_github):
    require_contracts()
    # Given an unregistered service, the set-up page offers the manifest
    page = await client.get("/setup")
    assert page.status == 200
    action, manifest = _form(await page.text())
    target = urlsplit(action)
    assert f"{target.scheme}://{target.netloc}" == s.DEFAULT_GITHUB_URL
    assert target.path == "/settings/apps/new"
    assert manifest["hook_attributes"]["url"] == f"{PUBLIC_URL}/webhooks/github"
    assert manifest["redirect_url"] == f"{PUBLIC_URL}/setup/callback"
    assert manifest["default_permissions"]["contents"] == "write"
    state = parse_qs(target.query)["state"][0]

    # When GitHub sends the browser back with a code and the same state
    fake_github.add_manifest_code("code-1")
    done = await client.get(
        "/setup/callback", params={"code": "code-1", "state": state}
    )

    # Then the credentials are written, for this user only, and start-up reads them
    assert done.status == 200, await done.text()
    assert fake_github.slug in await done.text()
    path = env[s.CREDENTIALS_FILE_ENV]
    with open(path) as handle:
        stored = json.load(handle)
    assert set(stored) == {"id", "slug", "html_url", "pem", "webhook_secret"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    settings = s.load_settings(env)
    assert isinstance(settings, s.Settings)
    assert settings.app_id == str(fake_github.app_id)
    assert settings.webhook_secret == stored["webhook_secret"]
    assert settings.private_key.strip() == stored["pem"].strip()

    # And both pages now refuse, saying why
    for url in ("/setup", f"/setup/callback?code=code-1&state={state}"):
        again = await client.get(url)
        assert again.status == 403
        assert "set-up is closed" in await again.text()


async def test_a_callback_with_a_foreign_state_is_refused(client, env, fake_github):
    await client.get("/setup")
    fake_github.add_manifest_code("code-2")
    response = await client.get(
        "/setup/callback", params={"code": "code-2", "state": "forged"}
    )
    assert response.status == 400
    assert "start again at /setup" in await response.text()
    assert not os.path.exists(env[s.CREDENTIALS_FILE_ENV])


async def test_a_state_works_once(client, fake_github):
    action, _ = _form(await (await client.get("/setup")).text())
    state = parse_qs(urlsplit(action).query)["state"][0]
    first = await client.get("/setup/callback", params={"code": "nope", "state": state})
    second = await client.get(
        "/setup/callback", params={"code": "nope", "state": state}
    )
    # The stand-in knows no such code, so GitHub's refusal is shown, then the
    # spent state is refused.
    assert first.status == 502
    assert second.status == 400


async def test_an_organisation_gets_the_organisation_form(client):
    action, _ = _form(await (await client.get("/setup?org=acme-corp")).text())
    assert urlsplit(action).path == "/organizations/acme-corp/settings/apps/new"
    bad = await client.get("/setup", params={"org": "../evil"})
    assert bad.status == 400


async def test_the_request_host_is_used_without_a_public_url(aiohttp_client, env):
    del env[s.PUBLIC_URL_ENV]
    client = await aiohttp_client(make_app(s.load_settings(env)))
    _, manifest = _form(await (await client.get("/setup")).text())
    assert manifest["redirect_url"] == (
        f"http://{client.server.host}:{client.server.port}/setup/callback"
    )


async def test_enterprise_server_gets_its_own_urls(aiohttp_client, tmp_path):
    settings = s.load_settings(
        {
            s.GITHUB_URL_ENV: "https://ghe.example.com/",
            s.CREDENTIALS_FILE_ENV: str(tmp_path / "c.json"),
        }
    )
    assert settings.github_api_url == "https://ghe.example.com/api/v3"
    client = await aiohttp_client(make_app(settings))
    action, _ = _form(await (await client.get("/setup")).text())
    assert action.startswith("https://ghe.example.com/settings/apps/new?state=")


async def test_unconfigured_mode_serves_only_setup_and_health(client):
    health = await client.get("/healthz")
    assert await health.json() == {"ok": True, "configured": False}
    assert (await client.post("/webhooks/github", data=b"{}")).status == 404
    assert (await client.post("/api/tracebacks", data=b"{}")).status == 404


async def test_a_configured_app_refuses_setup(bot):
    for path in ("/setup", "/setup/callback?code=x&state=y"):
        response = await bot.session.get(f"{bot.url}{path}")
        assert response.status == 403
        assert f"app id {bot.settings.app_id}" in await response.text()


def test_credentials_are_never_overwritten(tmp_path):
    path = tmp_path / "c.json"
    write_credentials(str(path), {"id": 1})
    with pytest.raises(FileExistsError):
        write_credentials(str(path), {"id": 2})
    assert json.loads(path.read_text()) == {"id": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]
