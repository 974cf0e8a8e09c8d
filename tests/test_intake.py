"""POST /api/tracebacks: signature and time window, body shape, scope."""

from __future__ import annotations

import io
import json
import time

import pytest

from bot import intake
from bot.keys import create_key
from bot.tracebacks import find_tracebacks
from lambda_forwarder import signing

LOG_GROUP = "/aws/lambda/api"
TRACEBACK_TEXT = """Traceback (most recent call last):
  File "/var/task/app.py", line 3, in handler
    return event["id"]
KeyError: 'id'
"""


def _item(**overrides) -> dict:
    found = find_tracebacks(TRACEBACK_TEXT)[0]
    return {"traceback": found.traceback.to_dict(), "text": found.text, **overrides}


def _body(log_group: str = LOG_GROUP, items: list | None = None) -> bytes:
    occurrences = [_item()] if items is None else items
    return json.dumps({"log_group": log_group, "occurrences": occurrences}).encode()


async def _post(bot, body: bytes, *, key=None, at: int | None = None, headers=None):
    key_id, secret = key or (
        bot.settings.forwarder_key_id,
        bot.settings.forwarder_secret,
    )
    sent = headers or signing.signed_headers(
        key_id, secret, int(time.time()) if at is None else at, body
    )
    async with bot.session.post(
        f"{bot.url}/api/tracebacks", data=body, headers=sent
    ) as response:
        return response.status, await response.json()


async def test_a_signed_body_is_accepted_and_queued(bot):
    status, answer = await _post(bot, _body(items=[_item(), _item(count=3)]))
    assert (status, answer) == (202, {"accepted": 2})
    await bot.drain()


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("wrong secret", "unknown key id or signature does not match"),
        ("unknown key", "unknown key id or signature does not match"),
        ("too old", "timestamp outside the 5 minute window"),
        ("from the future", "timestamp outside the 5 minute window"),
        ("no headers", "missing signature headers"),
        ("bad timestamp", "timestamp is not whole seconds"),
    ],
)
async def test_bad_signatures_and_times_are_401(bot, what, expected):
    body = _body()
    key = (bot.settings.forwarder_key_id, bot.settings.forwarder_secret)
    at = int(time.time())
    headers = None
    if what == "wrong secret":
        key = (key[0], "guess")
    elif what == "unknown key":
        key = ("fk_nobody", "guess")
    elif what == "too old":
        at -= signing.MAX_SKEW_SECONDS + 5
    elif what == "from the future":
        at += signing.MAX_SKEW_SECONDS + 5
    elif what == "no headers":
        headers = {"Content-Type": "application/json"}
    elif what == "bad timestamp":
        headers = signing.signed_headers(key[0], key[1], at, body)
        headers[signing.TIMESTAMP_HEADER] = "soon"
    status, answer = await _post(bot, body, key=key, at=at, headers=headers)
    assert (status, answer) == (401, {"error": expected})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{nope", "body is not JSON"),
        (b"[]", "body must be a JSON object"),
        (json.dumps({"occurrences": [1]}).encode(), "log_group must be"),
        (json.dumps({"log_group": "g"}).encode(), "occurrences must be"),
        (_body(items=[{"traceback": "x"}]), "occurrences[0]"),
        (_body(items=[_item(count=0)]), "occurrences[0]: count"),
        (_body(items=[_item(), _item(first_seen="x")]), "occurrences[1]: first_seen"),
    ],
)
async def test_bad_bodies_are_400_with_a_json_error(bot, body, expected):
    status, answer = await _post(bot, body)
    assert status == 400
    assert answer["error"].startswith(expected)
    # Nothing of a refused batch is stored.
    assert bot.services.store.pending_jobs() == 0


async def test_a_key_outside_its_prefix_is_403(bot):
    key = create_key(bot.services.store, 1, "/aws/lambda/")
    status, answer = await _post(bot, _body("/ecs/web"), key=key)
    assert status == 403 and "/ecs/web" in answer["error"]
    assert (await _post(bot, _body(), key=key))[0] == 202
    await bot.drain()


async def test_an_oversized_body_is_refused_as_json(bot):
    body = b"x" * (intake.MAX_BODY_BYTES + 1)
    headers = signing.signed_headers(
        bot.settings.forwarder_key_id, bot.settings.forwarder_secret, 0, body
    )
    async with bot.session.post(
        f"{bot.url}/api/tracebacks", data=io.BytesIO(body), headers=headers
    ) as response:
        assert response.status == 413
        assert "error" in await response.json()


async def test_a_batch_sent_again_is_recorded_once(bot):
    """Lambda retries a whole event after any failed post; nothing counts twice."""
    first = json.loads(_body(items=[_item(count=2)]))
    body = json.dumps({**first, "batch_id": "abc:0000"}).encode()
    assert await _post(bot, body) == (202, {"accepted": 1})
    # A second later the same batch is signed afresh: a different signature.
    later = int(time.time()) + 1
    assert await _post(bot, body, at=later) == (202, {"accepted": 0, "duplicate": True})
    other = json.dumps({**first, "batch_id": "abc:0001"}).encode()
    assert await _post(bot, other) == (202, {"accepted": 1})
    await bot.drain()


async def test_batch_ids_are_per_key(bot):
    key = create_key(bot.services.store, 1, None)
    body = json.dumps({**json.loads(_body()), "batch_id": "same"}).encode()
    assert (await _post(bot, body))[1] == {"accepted": 1}
    assert (await _post(bot, body, key=key))[1] == {"accepted": 1}
    await bot.drain()


@pytest.mark.parametrize("batch_id", [7, "", "x" * 201])
async def test_a_malformed_batch_id_is_400(bot, batch_id):
    body = json.dumps({**json.loads(_body()), "batch_id": batch_id}).encode()
    status, answer = await _post(bot, body)
    assert status == 400 and answer["error"].startswith("batch_id")


async def test_the_forwarders_fingerprint_ties_renderings_together(bot):
    """A cut rendering gets the fingerprint of the whole one the forwarder saw."""
    whole = "f" * 64
    cut = _item(fingerprint=whole)
    cut["traceback"]["partial"] = True
    items = [cut, _item(fingerprint=whole), _item(fingerprint="not-hex")]
    assert await _post(bot, _body(items=items)) == (202, {"accepted": 3})
    rows = bot.services.store.pending_occurrence_fingerprints()
    assert rows[0] == whole
    # A whole traceback, or a malformed fingerprint, gets the bot's own.
    assert rows[1] == rows[2] != whole and len(rows[1]) == 64
    await bot.drain()


async def test_the_same_signed_bytes_replayed_count_once(bot):
    """Without a batch id, a captured request replayed in the window is refused."""
    body, at = _body(), int(time.time())
    assert await _post(bot, body, at=at) == (202, {"accepted": 1})
    assert await _post(bot, body, at=at) == (202, {"accepted": 0, "duplicate": True})
    await bot.drain()


async def test_half_a_surrogate_pair_is_replaced_not_a_500(bot):
    """A file name read with surrogateescape reaches JSON as a lone \\udcff."""
    item = _item(text="Traceback (most recent call last):\n bad \udcff name")
    body = json.dumps({"log_group": LOG_GROUP, "occurrences": [item]}).encode()
    assert await _post(bot, body) == (202, {"accepted": 1})
    await bot.drain()


@pytest.mark.parametrize("count", [10**30, -1])
async def test_an_impossible_count_is_400(bot, count):
    status, answer = await _post(bot, _body(items=[_item(count=count)]))
    assert status == 400 and "count" in answer["error"]
