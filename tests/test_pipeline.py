"""Fix pipeline behaviour on the stand-ins: PR options, tally, refusals."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from bot.demo import DEMO_INSTALLATION_ID, DEMO_REPO, demo_data, repo_files
from bot.fixing import pipeline
from bot.store import FixState
from bot.testing import webhooks

DATA = demo_data()
ANSWER = (DATA / "answer.md").read_text()


async def _install(bot, config: str | None = None):
    files = repo_files(DATA / "repo")
    if config is not None:
        files[".github/self-healing.yml"] = config
    bot.github.add_installation(DEMO_INSTALLATION_ID, "example-org")
    bot.github.add_repo(DEMO_INSTALLATION_ID, DEMO_REPO, files)
    bot.github.set_permission(DEMO_REPO, "alice", "write")
    await bot.webhook(
        "installation", webhooks.installation_created(bot.github, DEMO_INSTALLATION_ID)
    )
    await bot.drain()


def _payload(n: int = 0) -> dict:
    """The demo event; n > 0 makes a later event with the same error."""
    event = json.loads((DATA / "payload.json").read_text())
    if not n:
        return event
    decoded = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    for log_event in decoded["logEvents"]:
        log_event["id"] = f"{int(log_event['id']) + n:056d}"
        log_event["timestamp"] += n * 60_000
    raw = gzip.compress(json.dumps(decoded).encode())
    return {"awslogs": {"data": base64.b64encode(raw).decode()}}


async def test_pull_request_options_come_from_the_config(bot):
    await _install(
        bot,
        "log_groups: [/aws/lambda/example-function]\n"
        "draft: false\nlabels: [bug, autofix]\nreviewers: [alice]\n",
    )
    bot.bedrock.script(ANSWER)
    await bot.forward(_payload())
    await bot.drain()
    (pull,) = bot.github.pulls(DEMO_REPO)
    assert pull["draft"] is False
    assert {label["name"] for label in pull["labels"]} == {"bug", "autofix"}
    assert [r["login"] for r in pull["requested_reviewers"]] == ["alice"]
    body = pull["body"]
    for section in ("### Root cause", "<details>", "**Occurrences:** 1", "/retry"):
        assert section in body
    assert "about $" in body  # model, tokens and cost


async def test_a_new_occurrence_edits_the_tally_in_place(bot, monkeypatch):
    await _install(bot)
    bot.bedrock.script(ANSWER)
    await bot.forward(_payload())
    await bot.drain()
    monkeypatch.setattr(pipeline, "TALLY_EDIT_SECONDS", 0)

    await bot.forward(_payload(1))
    await bot.forward(_payload(2))
    await bot.drain()

    (pull,) = bot.github.pulls(DEMO_REPO)
    assert "**Occurrences:** 3" in pull["body"]
    assert "last seen 2020-03-30 00:02 UTC" in pull["body"]
    assert len(bot.bedrock.calls) == 1


async def test_tally_edits_wait_a_minute(bot):
    await _install(bot)
    bot.bedrock.script(ANSWER)
    await bot.forward(_payload())
    await bot.drain()
    edits_before = _pull_edits(bot)
    await bot.forward(_payload(1))
    await bot.drain()
    assert _pull_edits(bot) == edits_before
    fix = bot.services.store.fix_by_pr(DEMO_REPO, 1)
    assert fix.occurrences == 2  # counted, just not shown yet


def _pull_edits(bot) -> int:
    return sum(1 for method, _, _ in bot.github.calls if method == "PATCH")


async def test_edits_to_workflows_are_refused_whatever_the_model_says(bot):
    await _install(bot)
    evil = ANSWER.replace(
        "scan.py\n<<<<<<< SEARCH", ".github/workflows/ci.yml\n<<<<<<< SEARCH"
    )
    bot.bedrock.script(evil)
    bot.bedrock.script(evil)
    await bot.forward(_payload())
    await bot.drain()
    assert bot.github.pulls(DEMO_REPO) == []
    (issue,) = bot.github.issues(DEMO_REPO)
    assert "CI" in issue["body"]
    fix = bot.services.store.fix(DEMO_REPO, _fingerprint(bot))
    assert fix.state is FixState.UNFIXED and fix.issue_number == issue["number"]


async def test_no_issue_when_the_config_turns_issues_off(bot):
    await _install(
        bot, "log_groups: [/aws/lambda/example-function]\nopen_issues: false\n"
    )
    bot.bedrock.script("## Root cause\nI cannot tell from this.\n")
    await bot.forward(_payload())
    await bot.drain()
    assert bot.github.pulls(DEMO_REPO) == [] and bot.github.issues(DEMO_REPO) == []
    # No edits and a root cause: no repair round is worth paying for.
    assert len(bot.bedrock.calls) == 1


async def test_ignored_exception_types_cost_nothing(bot):
    await _install(
        bot, "log_groups: [/aws/lambda/example-function]\nignore: {types: [KeyError]}\n"
    )
    await bot.forward(_payload())
    await bot.drain()
    assert bot.bedrock.calls == [] and bot.github.pulls(DEMO_REPO) == []


async def test_prompt_size_and_tokens_are_recorded_per_attempt(bot):
    await _install(bot)
    bot.bedrock.script(ANSWER, input_tokens=900, output_tokens=120)
    await bot.forward(_payload())
    await bot.drain()
    (attempt,) = bot.services.store.attempts_for_repo(DEMO_REPO)
    assert attempt["outcome"] == "ok"
    assert (attempt["input_tokens"], attempt["output_tokens"]) == (900, 120)
    prompt = bot.bedrock.calls[0].messages[-1]["content"][0]["text"]
    system = bot.bedrock.calls[0].system[0]["text"]
    assert attempt["prompt_chars"] == len(prompt) + len(system)
    assert attempt["cost"] == pytest.approx(900 / 1000 * 0.003 + 120 / 1000 * 0.015)


def _fingerprint(bot) -> str:
    (row,) = bot.services.store.attempts_for_repo(DEMO_REPO)
    return row["fingerprint"]
