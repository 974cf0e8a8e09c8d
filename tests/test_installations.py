"""The installation index, driven by schema-checked deliveries to the endpoint."""

from __future__ import annotations

import json

import pytest

from bot.events import installations
from bot.testing import webhooks
from bot.testing.contracts import require_contracts

ORG = "acme"
INSTALLATION = 7001
CONFIG = ".github/self-healing.yml"


def _config(*groups: str) -> str:
    return "log_groups:\n" + "".join(f"  - {g}\n" for g in groups)


async def _deliver(bot, event: str, payload: dict) -> None:
    response = await bot.webhook(event, payload)
    assert response.status == 200, await response.text()
    await bot.drain()


@pytest.fixture
async def installed(bot):
    """acme/api (with a config) and acme/web (without), installed."""
    require_contracts()
    bot.github.add_installation(INSTALLATION, ORG)
    bot.github.add_repo(INSTALLATION, f"{ORG}/api", {CONFIG: _config("/aws/api")})
    bot.github.add_repo(INSTALLATION, f"{ORG}/web", {"index.html": "<p>hi</p>"})
    await _deliver(
        bot, "installation", webhooks.installation_created(bot.github, INSTALLATION)
    )
    return bot


def _claimed(bot, repo: str) -> list[str]:
    row = bot.services.store.repo(repo)
    if row is None or row["config"] is None:
        return []
    return [g["name"] for g in json.loads(row["config"])["log_groups"]]


async def test_created_records_the_repos_and_their_configs(installed):
    store = installed.services.store
    assert store.installation_active(INSTALLATION)
    assert store.repo(f"{ORG}/api")["default_branch"] == "main"
    assert _claimed(installed, f"{ORG}/api") == ["/aws/api"]
    assert store.repo(f"{ORG}/web")["config"] is None


async def test_deleted_forgets_the_installation(installed):
    await _deliver(
        installed,
        "installation",
        webhooks.installation_deleted(installed.github, INSTALLATION),
    )
    store = installed.services.store
    assert INSTALLATION not in store.installation_ids()
    assert store.repo(f"{ORG}/api") is None


async def test_suspend_and_unsuspend(installed):
    bot = installed
    bot.github.suspend_installation(INSTALLATION)
    await _deliver(
        bot, "installation", webhooks.installation_suspend(bot.github, INSTALLATION)
    )
    assert not bot.services.store.installation_active(INSTALLATION)
    assert bot.services.store.configured_repos(INSTALLATION) == []

    # While suspended the config changed; unsuspending reads it again
    bot.github.suspend_installation(INSTALLATION, False)
    bot.github.push_commit(f"{ORG}/api", "main", {CONFIG: _config("/aws/api2")})
    await _deliver(
        bot, "installation", webhooks.installation_unsuspend(bot.github, INSTALLATION)
    )
    assert bot.services.store.installation_active(INSTALLATION)
    assert _claimed(bot, f"{ORG}/api") == ["/aws/api2"]


async def test_repositories_added_loads_only_the_new_ones(installed):
    bot = installed
    bot.github.add_repo(INSTALLATION, f"{ORG}/jobs", {CONFIG: _config("/aws/jobs")})
    calls_before = len(bot.github.calls)
    await _deliver(
        bot,
        "installation_repositories",
        webhooks.installation_repositories_added(
            bot.github, INSTALLATION, [f"{ORG}/jobs"]
        ),
    )
    assert _claimed(bot, f"{ORG}/jobs") == ["/aws/jobs"]
    reads = [c for c in bot.github.calls[calls_before:] if "/contents/" in c[1]]
    assert len(reads) == 1, reads


async def test_repositories_removed_drops_them(installed):
    bot = installed
    await _deliver(
        bot,
        "installation_repositories",
        webhooks.installation_repositories_removed(
            bot.github, INSTALLATION, [f"{ORG}/api"]
        ),
    )
    assert bot.services.store.repo(f"{ORG}/api") is None
    assert bot.services.store.repo(f"{ORG}/web") is not None


async def test_a_config_push_to_the_default_branch_reloads_it(installed):
    bot = installed
    before = bot.github.branch_sha(f"{ORG}/api", "main")
    bot.github.push_commit(f"{ORG}/api", "main", {CONFIG: _config("/aws/new")})
    await _deliver(bot, "push", webhooks.push(bot.github, f"{ORG}/api", "main", before))
    assert _claimed(bot, f"{ORG}/api") == ["/aws/new"]


async def test_other_pushes_are_ignored(installed):
    bot = installed
    # A config change on a side branch, and an unrelated change on main
    before = bot.github.branch_sha(f"{ORG}/api", "main")
    bot.github.push_commit(f"{ORG}/api", "topic", {CONFIG: _config("/aws/topic")})
    await _deliver(
        bot, "push", webhooks.push(bot.github, f"{ORG}/api", "topic", before)
    )
    bot.github.push_commit(f"{ORG}/api", "main", {"app.py": "x = 1\n"})
    await _deliver(bot, "push", webhooks.push(bot.github, f"{ORG}/api", "main", before))
    assert _claimed(bot, f"{ORG}/api") == ["/aws/api"]
    assert bot.github.check_runs(f"{ORG}/api") == []


async def test_start_up_sync_rebuilds_a_lost_index(bot):
    """The database was lost: listing the installations brings the index back."""
    require_contracts()
    bot.github.add_installation(INSTALLATION, ORG)
    bot.github.add_repo(INSTALLATION, f"{ORG}/api", {CONFIG: _config("/aws/api")})
    bot.github.add_installation(7002, "other")
    bot.github.add_repo(7002, "other/svc", {CONFIG: _config("/aws/svc")})
    bot.github.suspend_installation(7002)
    store = bot.services.store
    # An installation removed while the service was down
    store.put_installation(7999, "gone")

    bot.services.queue.put(installations.SYNC_ALL_JOB, {})
    await bot.drain()

    assert _claimed(bot, f"{ORG}/api") == ["/aws/api"]
    assert not store.installation_active(7002)
    assert sorted(store.installation_ids()) == [INSTALLATION, 7002]


async def test_sync_clears_a_suspension_lifted_while_down(bot):
    require_contracts()
    bot.github.add_installation(INSTALLATION, ORG)
    bot.github.add_repo(INSTALLATION, f"{ORG}/api", {CONFIG: _config("/aws/api")})
    bot.services.store.put_installation(INSTALLATION, ORG)
    bot.services.store.set_suspended(INSTALLATION, True)

    bot.services.queue.put(installations.SYNC_ALL_JOB, {})
    await bot.drain()

    assert bot.services.store.installation_active(INSTALLATION)
    assert _claimed(bot, f"{ORG}/api") == ["/aws/api"]
