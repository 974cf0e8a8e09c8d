"""Config pushes: a bad file keeps the last good config and says why on a check run."""

from __future__ import annotations

import json

import pytest

from bot.events.config import CHECK_NAME, INVALID_SUMMARY, WARNINGS_SUMMARY
from bot.testing import webhooks
from bot.testing.contracts import require_contracts

ORG = "acme"
REPO = f"{ORG}/api"
INSTALLATION = 7101
CONFIG = ".github/self-healing.yml"
GOOD = "log_groups: [/aws/api]\n"


@pytest.fixture
async def installed(bot):
    require_contracts()
    bot.github.add_installation(INSTALLATION, ORG)
    bot.github.add_repo(INSTALLATION, REPO, {CONFIG: GOOD})
    response = await bot.webhook(
        "installation", webhooks.installation_created(bot.github, INSTALLATION)
    )
    assert response.status == 200
    await bot.drain()
    return bot


async def _push(bot, files: dict, repo: str = REPO) -> str:
    before = bot.github.branch_sha(repo, "main")
    after = bot.github.push_commit(repo, "main", files)
    response = await bot.webhook(
        "push", webhooks.push(bot.github, repo, "main", before)
    )
    assert response.status == 200
    await bot.drain()
    return after


def _stored(bot, repo: str = REPO) -> dict:
    return json.loads(bot.services.store.repo(repo)["config"])


async def test_a_bad_value_is_reported_and_the_last_good_config_stays(installed):
    bot = installed
    # When a push sets max_files to something that is not a number
    sha = await _push(bot, {CONFIG: "log_groups: [/aws/other]\nmax_files: lots\n"})

    # Then the check run on that commit fails, naming the file, key and why
    (run,) = bot.github.check_runs(REPO)
    assert run["name"] == CHECK_NAME and run["head_sha"] == sha
    assert run["conclusion"] == "failure"
    assert run["output"]["title"] == INVALID_SUMMARY
    assert (
        f"{CONFIG}: max_files: must be a whole number of 1 or more"
        in run["output"]["text"]
    )
    # And routing still follows the last good file
    assert _stored(bot)["log_groups"][0]["name"] == "/aws/api"
    assert "max_files" in bot.services.store.repo(REPO)["config_error"]


async def test_broken_yaml_names_the_line(installed):
    bot = installed
    await _push(bot, {CONFIG: "log_groups: [/aws/x\nmodel: y\n"})
    (run,) = bot.github.check_runs(REPO)
    assert run["conclusion"] == "failure"
    assert f"{CONFIG}: line " in run["output"]["text"]
    assert "not valid YAML" in run["output"]["text"]
    assert _stored(bot)["log_groups"][0]["name"] == "/aws/api"


async def test_unknown_keys_warn_and_the_file_still_loads(installed):
    bot = installed
    await _push(bot, {CONFIG: "log_groups: [/aws/new]\ncolour: blue\n"})
    (run,) = bot.github.check_runs(REPO)
    assert run["conclusion"] == "success"
    assert run["output"]["title"] == WARNINGS_SUMMARY
    assert f"{CONFIG}: colour: unknown key, ignored" in run["output"]["text"]
    assert _stored(bot)["log_groups"][0]["name"] == "/aws/new"


async def test_a_repo_extends_the_organisation_defaults(installed):
    bot = installed
    bot.github.add_repo(
        INSTALLATION, f"{ORG}/.github", {CONFIG: "labels: [org-label]\ndraft: false\n"}
    )
    await _push(bot, {CONFIG: "_extends: .github\nlog_groups: [/aws/api]\n"})
    (run,) = bot.github.check_runs(REPO)
    assert run["conclusion"] == "success", run["output"]
    stored = _stored(bot)
    assert stored["labels"] == ["org-label"] and stored["draft"] is False

    # When the organisation's defaults change, the extending repo follows
    await _push(bot, {CONFIG: "labels: [org-2]\n"}, repo=f"{ORG}/.github")
    assert _stored(bot)["labels"] == ["org-2"]


async def test_extending_a_missing_repo_is_reported(installed):
    bot = installed
    await _push(bot, {CONFIG: "_extends: nowhere\nlog_groups: [/aws/x]\n"})
    (run,) = bot.github.check_runs(REPO)
    assert run["conclusion"] == "failure"
    assert (
        f"{CONFIG}: _extends: {ORG}/nowhere could not be read"
        in (run["output"]["text"])
    )


async def test_removing_the_file_unclaims_the_log_groups(installed):
    bot = installed
    await _push(bot, {CONFIG: None})
    assert bot.services.store.repo(REPO)["config"] is None
