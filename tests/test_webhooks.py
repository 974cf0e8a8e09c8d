"""POST /webhooks/github: verify, de-duplicate, dispatch, never fall over."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest

from bot import webhooks as endpoint
from bot.testing import webhooks
from bot.testing.contracts import require_contracts

INSTALLATION = 9001


@pytest.fixture
async def installed(bot):
    require_contracts()
    bot.github.add_installation(INSTALLATION, "acme")
    bot.github.add_repo(INSTALLATION, "acme/api", {"app.py": "x = 1\n"})
    return bot


async def _raw(bot, headers: dict, body: bytes):
    async with bot.session.post(
        f"{bot.url}/webhooks/github", data=body, headers=headers
    ) as response:
        return response.status, await response.json()


async def test_ping_is_answered(installed):
    response = await installed.webhook("ping", webhooks.ping(installed.github))
    assert response.status == 200
    assert await response.json() == {"pong": True}


async def test_a_redelivery_is_handled_once(installed):
    bot = installed
    payload = webhooks.installation_created(bot.github, INSTALLATION)
    first = await bot.webhook("installation", payload, delivery_id="d-1")
    again = await bot.webhook("installation", payload, delivery_id="d-1")
    assert await first.json() == {"ok": True}
    assert await again.json() == {"duplicate": True}
    await bot.drain()


async def test_a_bad_signature_is_401(installed):
    payload = webhooks.ping(installed.github)
    headers, body = webhooks.signed("not-the-secret", "ping", payload)
    status, answer = await _raw(installed, headers, body)
    assert status == 401 and "signature" in answer["error"]


async def test_a_missing_signature_is_401(installed):
    headers, body = webhooks.signed("x", "ping", webhooks.ping(installed.github))
    del headers["X-Hub-Signature-256"]
    status, answer = await _raw(installed, headers, body)
    assert status == 401
    assert answer["error"] == "signature: X-Hub-Signature-256 is missing"


@pytest.mark.parametrize(
    ("drop", "body"),
    [
        ("X-GitHub-Delivery", None),
        ("X-GitHub-Event", None),
        (None, b"{not json"),
        (None, b"[1, 2]"),
    ],
)
async def test_malformed_deliveries_are_400(installed, drop, body):
    bot = installed
    secret = bot.settings.webhook_secret
    headers, signed_body = webhooks.signed(secret, "ping", webhooks.ping(bot.github))
    if drop:
        del headers[drop]
    if body is not None:
        # Signed correctly, so only the shape is wrong.
        signed_body = body
        headers["X-Hub-Signature-256"] = _digest(secret, body)
    status, answer = await _raw(bot, headers, signed_body)
    assert status == 400, answer
    assert answer["error"].startswith("malformed delivery")


def _digest(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_a_failing_handler_is_500_and_a_redelivery_may_retry(
    installed, monkeypatch, caplog
):
    bot = installed
    calls = []

    async def broken(event, services):
        calls.append(event.delivery_id)
        raise RuntimeError("boom")

    router = type(endpoint.router)()
    router.add(broken, "installation", action="created")
    monkeypatch.setattr(endpoint, "router", router)
    payload = webhooks.installation_created(bot.github, INSTALLATION)

    response = await bot.webhook("installation", payload, delivery_id="d-500")
    again = await bot.webhook("installation", payload, delivery_id="d-500")

    assert response.status == 500 and again.status == 500
    assert await response.json() == {"error": "internal error"}
    assert calls == ["d-500", "d-500"]
    (failed, _) = [r for r in caplog.records if r.getMessage() == "webhook.failed"]
    assert failed.delivery_id == "d-500" and failed.exc_info is not None


async def test_deliveries_are_answered_quickly_and_logged(installed, caplog):
    bot = installed
    caplog.set_level(logging.INFO, logger="bot.webhooks")
    payload = webhooks.installation_created(bot.github, INSTALLATION)
    started = time.monotonic()
    response = await bot.webhook("installation", payload, delivery_id="d-log")
    # The work (listing repositories, reading configs) waits in the queue.
    assert time.monotonic() - started < 2
    assert response.status == 200
    (handled,) = [r for r in caplog.records if r.getMessage() == "webhook.handled"]
    assert handled.delivery_id == "d-log"
    assert (handled.event, handled.action) == ("installation", "created")
    assert handled.installation_id == INSTALLATION
    assert hasattr(handled, "rate_limit_remaining")
    await bot.drain()


async def test_an_unconfigured_event_is_accepted_and_ignored(installed):
    bot = installed
    payload = json.loads(json.dumps(webhooks.ping(bot.github)))
    headers, body = webhooks.signed(bot.settings.webhook_secret, "star", payload)
    status, answer = await _raw(bot, headers, body)
    assert status == 200 and answer == {"ok": True}
