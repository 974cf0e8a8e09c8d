"""Forwarder keys: made by the CLI, scoped to an installation and a log-group prefix."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import types

import pytest

from bot import app as app_module
from bot import cli
from bot import settings as s
from bot.fixing.pipeline import UNCLAIMED_TTL_SECONDS
from bot.keys import create_key
from bot.store import Store
from bot.testing import webhooks
from bot.testing.contracts import require_contracts
from bot.tracebacks import find_tracebacks
from lambda_forwarder import signing

SHARED_GROUP = "/aws/lambda/shared"
TRACEBACK_TEXT = """Traceback (most recent call last):
  File "/var/task/app.py", line 3, in handler
    return event["id"]
KeyError: 'id'
"""
# Every repo ignores KeyError, so an occurrence that reaches a repo is logged
# with that repo's name and no model call is needed to see the route.
CONFIG = f"log_groups: [{SHARED_GROUP}]\nignore: {{types: [KeyError]}}\n"


def body(log_group: str, batch: int = 0) -> bytes:
    found = find_tracebacks(TRACEBACK_TEXT)[0]
    item = {"traceback": found.traceback.to_dict(), "text": found.text, "count": 1}
    data = {"log_group": log_group, "occurrences": [item], "batch_id": f"b{batch}"}
    return json.dumps(data).encode()


async def post(bot, key_id: str, secret: str, data: bytes, *, at: int | None = None):
    headers = signing.signed_headers(key_id, secret, at or int(time.time()), data)
    return await bot.session.post(
        f"{bot.url}/api/tracebacks", data=data, headers=headers
    )


async def install(bot, installation_id: int, owner: str, *repos: str) -> None:
    bot.github.add_installation(installation_id, owner)
    for name in repos:
        bot.github.add_repo(
            installation_id, f"{owner}/{name}", {".github/self-healing.yml": CONFIG}
        )
    response = await bot.webhook(
        "installation", webhooks.installation_created(bot.github, installation_id)
    )
    assert response.status == 200
    await bot.drain()


def routed(caplog) -> list[str]:
    return [
        r.repo
        for r in caplog.records
        if r.getMessage() == "occurrence.ignored_by_config"
    ]


@pytest.fixture
async def two_installations(bot):
    """acme and globex each have a repository claiming the same log group."""
    require_contracts()
    await install(bot, 8001, "acme", "api")
    await install(bot, 8002, "globex", "api")
    return bot


async def test_a_key_reaches_only_its_own_installation(two_installations, caplog):
    bot = two_installations
    store = bot.services.store
    acme_key = create_key(store, 8001, None)
    globex_key = create_key(store, 8002, None)
    caplog.set_level(logging.INFO)

    # When each installation's key sends a traceback for the shared group
    for n, (key_id, secret) in enumerate((acme_key, globex_key, acme_key)):
        response = await post(bot, key_id, secret, body(SHARED_GROUP, n))
        assert response.status == 202, await response.text()
        await bot.drain()

    # Then each reached its own installation's repo, never the other's
    assert routed(caplog) == ["acme/api", "globex/api", "acme/api"]


async def test_a_key_whose_installation_claims_nothing_reaches_nobody(
    two_installations, caplog
):
    bot = two_installations
    key_id, secret = create_key(bot.services.store, 8003, None)
    caplog.set_level(logging.INFO)
    response = await post(bot, key_id, secret, body(SHARED_GROUP))
    assert response.status == 202
    await bot.drain()
    assert routed(caplog) == []
    assert "occurrence.unclaimed" in [r.getMessage() for r in caplog.records]


async def test_a_prefix_key_may_send_only_its_log_groups(two_installations):
    bot = two_installations
    key_id, secret = create_key(bot.services.store, 8001, "/aws/lambda/")
    allowed = await post(bot, key_id, secret, body(SHARED_GROUP))
    refused = await post(bot, key_id, secret, body("/ecs/other"))
    assert allowed.status == 202
    assert refused.status == 403
    assert "/ecs/other" in (await refused.json())["error"]


async def test_a_revoked_key_is_refused(two_installations):
    bot = two_installations
    key_id, secret = create_key(bot.services.store, 8001, None)
    assert bot.services.store.revoke_key(key_id)
    response = await post(bot, key_id, secret, body(SHARED_GROUP))
    assert response.status == 401


async def test_the_earlier_claim_wins_within_an_installation(bot, caplog):
    require_contracts()
    await install(bot, 8001, "acme", "first", "second")
    key_id, secret = create_key(bot.services.store, 8001, None)
    caplog.set_level(logging.INFO)
    response = await post(bot, key_id, secret, body(SHARED_GROUP))
    assert response.status == 202
    await bot.drain()
    assert routed(caplog) == ["acme/first"]
    (conflict,) = [r for r in caplog.records if r.getMessage() == "routing.conflict"]
    assert conflict.winner == "acme/first" and conflict.others == ["acme/second"]


def test_the_cli_creates_lists_and_revokes_keys(tmp_path, monkeypatch, capsys):
    database = str(tmp_path / "keys.sqlite3")
    monkeypatch.setenv(s.DATABASE_ENV, database)

    assert (
        cli.main(
            [
                "keys",
                "create",
                "--installation",
                "42",
                "--log-group-prefix",
                "/aws/lambda/",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    key_id = printed.split("key id: ")[1].split()[0]
    secret = printed.split("secret: ")[1].split()[0]
    store = Store(database)
    try:
        key = store.key(key_id)
        assert (key.secret, key.installation_id) == (secret, 42)
        assert key.log_group_prefix == "/aws/lambda/"
    finally:
        store.close()

    assert cli.main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert key_id in listed and "installation 42" in listed
    assert secret not in listed

    assert cli.main(["keys", "revoke", key_id]) == 0
    assert "revoked" in capsys.readouterr().out
    # Revoking twice is no failure, but says so.
    assert cli.main(["keys", "revoke", key_id]) == 0
    assert "already revoked" in capsys.readouterr().err
    assert cli.main(["keys", "revoke", "fk_nope"]) == 1
    assert "no key fk_nope in" in capsys.readouterr().err
    cli.main(["keys", "list"])
    assert "revoked" in capsys.readouterr().out


def test_listing_never_makes_a_database(tmp_path, monkeypatch, capsys):
    database = tmp_path / "nowhere.sqlite3"
    monkeypatch.setenv(s.DATABASE_ENV, str(database))
    assert cli.main(["keys", "list"]) == 0
    assert f"no keys in {database}" in capsys.readouterr().out
    assert not database.exists()


def test_the_database_holding_secrets_is_private(tmp_path, monkeypatch):
    database = tmp_path / "keys.sqlite3"
    monkeypatch.setenv(s.DATABASE_ENV, str(database))
    cli.main(["keys", "create", "--installation", "9"])
    assert database.stat().st_mode & 0o777 == 0o600


def test_a_key_for_an_unknown_installation_warns(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(s.DATABASE_ENV, str(tmp_path / "keys.sqlite3"))
    assert cli.main(["keys", "create", "--installation", "9"]) == 0
    assert "installation 9 is not in the index" in capsys.readouterr().err


async def test_unclaimed_tracebacks_wait_a_day_then_are_dropped_and_counted(
    two_installations, caplog, monkeypatch
):
    bot = two_installations
    store = bot.services.store
    key_id, secret = create_key(store, 8001, None)
    caplog.set_level(logging.INFO)

    # Given a traceback for a log group no repository claims
    response = await post(bot, key_id, secret, body("/aws/lambda/unclaimed"))
    assert response.status == 202
    await bot.drain()
    assert len(store.occurrence_ids_for(["/aws/lambda/unclaimed"])) == 1

    # When a day has passed and the pruner runs
    later = time.time() + UNCLAIMED_TTL_SECONDS + 1
    monkeypatch.setattr(app_module, "time", types.SimpleNamespace(time=lambda: later))
    pruner = asyncio.create_task(app_module._prune_forever(store))
    await asyncio.sleep(0.05)
    pruner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pruner

    # Then it is gone, and the log line counts it
    assert store.occurrence_ids_for(["/aws/lambda/unclaimed"]) == []
    (pruned,) = [r for r in caplog.records if r.getMessage() == "occurrences.pruned"]
    assert pruned.count == 1
