"""Webhook payloads come from GitHub's examples, match its schemas and the fake's
state, and are signed the way GitHub signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.testing import webhooks as wh
from bot.testing.contracts import require_contracts
from bot.testing.github import FakeGitHub

REPO = "acme/service"


@pytest.fixture(autouse=True)
def _contracts() -> None:
    require_contracts()


@pytest.fixture
def world(fake_github: FakeGitHub) -> dict[str, Any]:
    """A repository with a human push, a bot pull request and some conversation."""
    fake = fake_github
    fake.add_installation(7, "acme")
    fake.add_repo(7, REPO, {"app/main.py": "x = 1 / 0\n"})
    fake.add_repo(7, "acme/lib", {"lib.py": "pass\n"})
    fake.set_permission(REPO, "alice", "write")
    before = fake.branch_sha(REPO, "main")
    fake.push_commit(REPO, "main", {"app/main.py": "x = 1\n"}, author_login="alice")
    fake.push_commit(REPO, "fix", {"app/main.py": "x = 0\n"}, author_login="alice")
    number = fake.open_pull(REPO, "fix", "main", title="Fix it")
    comment = fake.add_comment(REPO, number, "alice", "@self-healing-code retry")
    note = fake.add_review_comment(REPO, number, "alice", "why?", "app/main.py", 1)
    review = fake.add_review(REPO, number, "alice", "APPROVED", "ship it")
    return {
        "fake": fake,
        "before": before,
        "number": number,
        "comment": comment,
        "note": note,
        "review": review,
    }


def test_example_is_a_deep_copy_with_overrides() -> None:
    first = wh.example("issue_comment", "created", sender={"login": "x"})
    first["comment"]["body"] = "changed"
    second = wh.example("issue_comment", "created")
    assert first["sender"] == {"login": "x"}
    assert second["comment"]["body"] != "changed"
    assert second["sender"]["login"] != "x"
    with pytest.raises(KeyError):
        wh.example("issue_comment", "exploded")


def test_validate_reports_schema_errors(world: dict[str, Any]) -> None:
    fake, n = world["fake"], world["number"]
    payload = wh.issue_comment_created(fake, REPO, n, world["comment"]["id"])
    assert wh.validate("issue_comment", payload) == []
    del payload["comment"]
    payload["issue"]["number"] = "seven"
    errors = wh.validate("issue_comment", payload)
    assert any("'comment' is a required property" in e for e in errors), errors
    assert any(e.startswith("issue/number:") for e in errors), errors


def test_validate_picks_the_action_schema() -> None:
    assert (
        wh.webhook_name("pull_request", {"action": "closed"}) == "pull-request-closed"
    )
    assert wh.webhook_name("push", {}) == "push"
    payload = wh.example("issue_comment", "created")
    payload["action"] = "edited"  # an edit must say what changed
    errors = wh.validate("issue_comment", payload)
    assert any("'changes' is a required property" in e for e in errors), errors


def test_signed_matches_githubs_scheme() -> None:
    payload = wh.example("ping")
    headers, body = wh.signed("s3cret", "ping", payload, delivery_id="d-1")
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert headers["X-GitHub-Event"] == "ping"
    assert headers["X-GitHub-Delivery"] == "d-1"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == payload


async def test_post_validates_then_delivers() -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/hook"
    try:
        async with aiohttp.ClientSession() as session:
            resp = await wh.post(session, url, "k", "ping", wh.example("ping"))
            assert resp.status == 202
            broken = wh.example("issue_comment", "created")
            del broken["comment"]
            with pytest.raises(AssertionError, match="breaks the webhook schema"):
                await wh.post(session, url, "k", "issue_comment", broken)
    finally:
        await runner.cleanup()
    [(headers, body)] = received
    digest = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={digest}"


def _all_payloads(world: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    fake: FakeGitHub = world["fake"]
    n = world["number"]
    return [
        ("installation", wh.installation_created(fake, 7)),
        ("installation", wh.installation_deleted(fake, 7)),
        ("installation", wh.installation_suspend(fake, 7)),
        ("installation", wh.installation_unsuspend(fake, 7)),
        (
            "installation_repositories",
            wh.installation_repositories_added(fake, 7, ["acme/lib"]),
        ),
        (
            "installation_repositories",
            wh.installation_repositories_removed(fake, 7, ["acme/lib"]),
        ),
        ("ping", wh.ping(fake)),
        ("push", wh.push(fake, REPO, "main", world["before"])),
        ("pull_request", wh.pull_request_closed(fake, REPO, n)),
        (
            "issue_comment",
            wh.issue_comment_created(fake, REPO, n, world["comment"]["id"]),
        ),
        (
            "issue_comment",
            wh.issue_comment_edited(fake, REPO, n, world["comment"]["id"], "old body"),
        ),
        (
            "pull_request_review",
            wh.pull_request_review_submitted(fake, REPO, n, world["review"]["id"]),
        ),
        (
            "pull_request_review_comment",
            wh.pull_request_review_comment_created(fake, REPO, n, world["note"]["id"]),
        ),
    ]


def test_every_builder_produces_a_schema_valid_payload(world: dict[str, Any]) -> None:
    problems = [
        f"{event}/{payload.get('action')}: {error}"
        for event, payload in _all_payloads(world)
        for error in wh.validate(event, payload)
    ]
    assert problems == []


def test_builders_match_the_fakes_state(world: dict[str, Any]) -> None:
    fake: FakeGitHub = world["fake"]
    repo = fake.repo(REPO)
    n = world["number"]

    created = wh.installation_created(fake, 7)
    assert created["installation"]["id"] == 7
    assert created["installation"]["account"]["login"] == "acme"
    assert created["installation"]["app_id"] == fake.app_id
    assert {r["full_name"] for r in created["repositories"]} == {REPO, "acme/lib"}

    pushed = wh.push(fake, REPO, "main", world["before"])
    assert pushed["repository"]["id"] == repo.id
    assert pushed["repository"]["full_name"] == REPO
    assert pushed["after"] == fake.branch_sha(REPO, "main")
    assert pushed["head_commit"]["modified"] == ["app/main.py"]
    assert pushed["installation"]["id"] == 7
    assert "Codertocat/Hello-World" not in json.dumps(pushed["repository"])

    comment = wh.issue_comment_created(fake, REPO, n, world["comment"]["id"])
    assert comment["comment"]["body"] == "@self-healing-code retry"
    assert comment["comment"]["user"]["login"] == "alice"
    assert comment["issue"]["number"] == n
    assert "pull_request" in comment["issue"]

    fake.close_pull(REPO, n, merged=True, by="alice")
    closed = wh.pull_request_closed(fake, REPO, n)
    assert closed["pull_request"]["merged"] is True
    assert closed["pull_request"]["merged_by"]["login"] == "alice"
    assert closed["pull_request"]["head"]["ref"] == "fix"
    assert closed["pull_request"]["user"]["login"] == fake.bot.login
    assert wh.validate("pull_request", closed) == []

    review = wh.pull_request_review_submitted(fake, REPO, n, world["review"]["id"])
    assert (review["review"]["state"], review["review"]["body"]) == (
        "approved",
        "ship it",
    )

    note = wh.pull_request_review_comment_created(fake, REPO, n, world["note"]["id"])
    assert (note["comment"]["path"], note["comment"]["body"]) == ("app/main.py", "why?")
