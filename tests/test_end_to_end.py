"""The main job end to end: a real CloudWatch payload becomes a pull request."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from bot.demo import DEMO_INSTALLATION_ID, DEMO_REPO, demo_data, repo_files
from bot.testing import webhooks
from bot.testing.contracts import require_contracts

DATA = demo_data()


@pytest.fixture
def payload() -> dict:
    return json.loads((DATA / "payload.json").read_text())


@pytest.fixture
async def installed(bot):
    """The demo app repository, installed, with the installation delivered."""
    require_contracts()
    bot.github.add_installation(DEMO_INSTALLATION_ID, DEMO_REPO.split("/")[0])
    bot.github.add_repo(DEMO_INSTALLATION_ID, DEMO_REPO, repo_files(DATA / "repo"))
    response = await bot.webhook(
        "installation", webhooks.installation_created(bot.github, DEMO_INSTALLATION_ID)
    )
    assert response.status == 200
    await bot.drain()
    return bot


async def test_a_subscription_payload_becomes_one_pull_request(installed, payload):
    bot = installed
    bot.bedrock.script((DATA / "answer.md").read_text())

    # When CloudWatch Logs hands the forwarder the real-format event
    record = await bot.forward(payload)
    await bot.drain()

    # Then exactly one PR holds the fixed file, and its body the traceback
    assert record["outcome"] == "ok" and record["tracebacks_posted"] == 1
    pulls = bot.github.pulls(DEMO_REPO)
    assert len(pulls) == 1
    pull = pulls[0]
    assert pull["head"]["ref"].startswith("self-healing/")
    assert pull["draft"] is True
    fixed = bot.github.file(DEMO_REPO, pull["head"]["ref"], "scan.py")
    ast.parse(fixed)
    assert 'records = event.get("Records", [])' in fixed
    assert 'records = event["Records"]' not in fixed
    assert 'File "/var/task/scan.py", line 51, in event_object' in pull["body"]
    assert "KeyError" in pull["body"]
    # The model was asked once, with the failing code in the prompt
    assert len(bot.bedrock.calls) == 1
    prompt = bot.bedrock.calls[0].messages[-1]["content"][0]["text"]
    assert 'records = event["Records"]' in prompt
    assert "def event_object(event" in prompt
    assert bot.github.violations == [] and bot.bedrock.violations == []


async def test_the_same_payload_again_opens_no_second_pull_request(installed, payload):
    bot = installed
    bot.bedrock.script((DATA / "answer.md").read_text())
    await bot.forward(payload)
    await bot.drain()

    # When the same error arrives again
    await bot.forward(payload)
    await bot.drain()

    # Then there is still one PR and the model was not asked again; the same
    # event is known as a redelivery, so it is not counted twice either
    assert len(bot.github.pulls(DEMO_REPO)) == 1
    assert len(bot.bedrock.calls) == 1
    fix = bot.services.store.fix(DEMO_REPO, _only_fingerprint(bot))
    assert fix.occurrences == 1


async def test_an_unclaimed_log_group_opens_nothing(installed, payload):
    bot = installed
    decoded = _decoded(payload)
    decoded["logGroup"] = "/aws/lambda/somebody-else"
    await bot.forward(_encoded(decoded))
    await bot.drain()
    assert bot.github.pulls(DEMO_REPO) == []
    assert bot.bedrock.calls == []


async def test_a_fix_that_does_not_apply_opens_an_issue_not_a_pull(installed, payload):
    bot = installed
    wrong = (
        (DATA / "answer.md")
        .read_text()
        .replace('records = event["Records"]', 'records = event["Recs"]')
    )
    # Both the first answer and the repair answer miss the real lines.
    bot.bedrock.script(wrong)
    bot.bedrock.script(wrong)
    await bot.forward(payload)
    await bot.drain()
    assert bot.github.pulls(DEMO_REPO) == []
    assert len(bot.bedrock.calls) == 2
    repair = bot.bedrock.calls[1].messages[-1]["content"][0]["text"]
    assert "matches no lines" in repair
    assert 'records = event["Records"]' in repair  # the nearest real lines
    issues = bot.github.issues(DEMO_REPO)
    assert len(issues) == 1 and "No pull request was opened" in issues[0]["body"]


def _only_fingerprint(bot) -> str:
    rows = bot.services.store.attempts_for_repo(DEMO_REPO)
    assert len({r["fingerprint"] for r in rows}) == 1
    return rows[0]["fingerprint"]


def _decoded(payload: dict) -> dict:
    from bot.tracebacks import decode_subscription_event

    return decode_subscription_event(payload)


def _encoded(decoded: dict) -> dict:
    import base64
    import gzip

    raw = gzip.compress(json.dumps(decoded).encode())
    return {"awslogs": {"data": base64.b64encode(raw).decode()}}


def test_demo_data_is_a_real_case():
    """The bundled payload is case 001's, byte for byte."""
    case = Path(__file__).parent / "cases" / "tracebacks"
    matches = [
        p
        for p in case.glob("*/payload.json")
        if p.read_bytes() == (DATA / "payload.json").read_bytes()
    ]
    assert matches, "the demo payload must be one of the real cases"
