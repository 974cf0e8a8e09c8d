"""The GitHub stand-in answers like GitHub, rejects what GitHub rejects, and says
when an answer breaks GitHub's published contract."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from conftest import APP_ID, app_jwt, github_headers, make_app_key
from gidgethub.aiohttp import GitHubAPI

from bot.testing.contracts import require_contracts
from bot.testing.github import API_VERSION, FakeGitHub

REPO = "acme/service"
FILES = {"app/main.py": "def handler():\n    return 1 / 0\n", "README.md": "# svc\n"}


class Client:
    """A bare HTTP client that shows exactly what goes on the wire."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.auth: str | None = None

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        sent = headers if headers is not None else github_headers(self.auth)
        async with self.session.request(
            method, self.url + path, json=body, headers=sent
        ) as resp:
            data = (
                await resp.json() if resp.content_type == "application/json" else None
            )
            return resp.status, data, resp


@pytest.fixture
async def gh(fake_github: FakeGitHub, app_key: Any) -> AsyncIterator[Client]:
    """A client holding a fresh installation token for installation 7."""
    fake_github.add_installation(7, "acme")
    fake_github.add_repo(7, REPO, FILES)
    fake_github.add_installation(8, "other", "User")
    fake_github.add_repo(8, "other/private", {"x.py": "x"}, private=True)
    fake_github.set_permission(REPO, "alice", "write")
    async with aiohttp.ClientSession() as session:
        client = Client(session, fake_github.url)
        client.auth = f"Bearer {app_jwt(app_key.private_pem)}"
        status, token, _ = await client.call(
            "POST", "/app/installations/7/access_tokens"
        )
        assert status == 201
        client.auth = f"token {token['token']}"
        yield client


async def _branch(gh: Client, files: dict[str, str | None], branch: str) -> str:
    """Commit ``files`` on top of main through the Git Data API; return the sha."""
    _, ref, _ = await gh.call("GET", f"/repos/{REPO}/git/ref/heads/main")
    base = ref["object"]["sha"]
    _, commit, _ = await gh.call("GET", f"/repos/{REPO}/git/commits/{base}")
    entries: list[dict[str, Any]] = [
        {"path": p, "mode": "100644", "type": "blob", "content": c}
        if c is not None
        else {"path": p, "mode": "100644", "type": "blob", "sha": None}
        for p, c in files.items()
    ]
    status, tree, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/git/trees",
        {"base_tree": commit["tree"]["sha"], "tree": entries},
    )
    assert status == 201, tree
    status, new, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/git/commits",
        {"message": "Fix ZeroDivisionError", "tree": tree["sha"], "parents": [base]},
    )
    assert status == 201, new
    status, _, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/git/refs",
        {"ref": f"refs/heads/{branch}", "sha": new["sha"]},
    )
    assert status == 201
    return new["sha"]


# ----- app authentication


async def test_app_jwt_gets_app_and_installation_token(
    fake_github: FakeGitHub, app_key: Any
) -> None:
    fake_github.add_installation(7, "acme")
    async with aiohttp.ClientSession() as session:
        client = Client(session, fake_github.url)
        client.auth = f"Bearer {app_jwt(app_key.private_pem)}"
        status, app, _ = await client.call("GET", "/app")
        assert (status, app["id"], app["slug"]) == (200, APP_ID, "self-healing-code")
        status, installations, _ = await client.call("GET", "/app/installations")
        assert [i["id"] for i in installations] == [7]
        status, token, _ = await client.call(
            "POST", "/app/installations/7/access_tokens"
        )
    assert status == 201
    assert token["token"].startswith("ghs_")
    expires = datetime.strptime(token["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    remaining = expires.replace(tzinfo=UTC) - datetime.now(UTC)
    assert 3500 < remaining.total_seconds() <= 3600


@pytest.mark.parametrize(
    "make_jwt",
    [
        pytest.param(lambda key: app_jwt(make_app_key().private_pem), id="other-key"),
        pytest.param(lambda key: app_jwt(key, app_id=1), id="wrong-iss"),
        pytest.param(lambda key: app_jwt(key, lifetime=900), id="exp-over-10-min"),
        pytest.param(lambda key: app_jwt(key, lifetime=-120), id="expired"),
        pytest.param(lambda key: "not-a-jwt", id="garbage"),
    ],
)
async def test_bad_jwt_is_401_with_github_error_json(
    fake_github: FakeGitHub, app_key: Any, make_jwt: Any
) -> None:
    async with aiohttp.ClientSession() as session:
        client = Client(session, fake_github.url)
        client.auth = f"Bearer {make_jwt(app_key.private_pem)}"
        status, body, _ = await client.call("GET", "/app")
    assert status == 401
    assert set(body) == {"message", "documentation_url"}


async def test_installation_token_is_not_an_app_jwt(gh: Client) -> None:
    status, body, _ = await gh.call("GET", "/app")
    assert status == 401
    assert "JSON web token" in body["message"]


async def test_missing_auth_is_401(gh: Client) -> None:
    gh.auth = None
    status, body, _ = await gh.call("GET", f"/repos/{REPO}")
    assert (status, body["message"]) == (401, "Requires authentication")


async def test_token_of_another_installation_sees_404(gh: Client) -> None:
    status, body, _ = await gh.call("GET", "/repos/other/private")
    assert (status, body["message"]) == (404, "Not Found")
    status, _, _ = await gh.call("GET", f"/repos/{REPO}")
    assert status == 200


async def test_expired_token_is_401(gh: Client, fake_github: FakeGitHub) -> None:
    fake_github.expire_tokens(7)
    status, body, _ = await gh.call("GET", f"/repos/{REPO}")
    assert (status, body["message"]) == (401, "Bad credentials")


async def test_suspended_installation_gets_no_token(
    fake_github: FakeGitHub, app_key: Any
) -> None:
    fake_github.add_installation(9, "sleepy")
    fake_github.suspend_installation(9)
    async with aiohttp.ClientSession() as session:
        client = Client(session, fake_github.url)
        client.auth = f"Bearer {app_jwt(app_key.private_pem)}"
        status, _, _ = await client.call("POST", "/app/installations/9/access_tokens")
    assert status == 403


# ----- front door


async def test_missing_api_version_header_is_400(gh: Client) -> None:
    headers = github_headers(gh.auth)
    del headers["X-GitHub-Api-Version"]
    status, body, _ = await gh.call("GET", f"/repos/{REPO}", headers=headers)
    assert status == 400
    assert API_VERSION in body["message"]


async def test_wrong_api_version_is_400(gh: Client) -> None:
    headers = {**github_headers(gh.auth), "X-GitHub-Api-Version": "2021-01-01"}
    status, _, _ = await gh.call("GET", f"/repos/{REPO}", headers=headers)
    assert status == 400


async def test_missing_user_agent_is_403(gh: Client) -> None:
    headers = github_headers(gh.auth)
    del headers["User-Agent"]
    # aiohttp adds its own User-Agent unless told to skip it.
    async with gh.session.get(
        f"{gh.url}/repos/{REPO}", headers=headers, skip_auto_headers=["User-Agent"]
    ) as resp:
        assert resp.status == 403


async def test_etag_304_and_rate_limit_headers(gh: Client) -> None:
    status, _, first = await gh.call("GET", f"/repos/{REPO}")
    assert status == 200
    etag = first.headers["ETag"]
    assert first.headers["X-RateLimit-Limit"] == "5000"
    remaining = int(first.headers["X-RateLimit-Remaining"])
    assert int(first.headers["X-RateLimit-Reset"]) > datetime.now(UTC).timestamp()
    headers = {**github_headers(gh.auth), "If-None-Match": etag}
    status, body, again = await gh.call("GET", f"/repos/{REPO}", headers=headers)
    assert (status, body) == (304, None)
    # Conditional hits are free on GitHub.
    assert int(again.headers["X-RateLimit-Remaining"]) == remaining


# ----- git data, contents, pull requests


async def test_contents_are_base64_and_absent_files_404(gh: Client) -> None:
    status, body, _ = await gh.call(
        "GET", f"/repos/{REPO}/contents/app/main.py?ref=main"
    )
    assert status == 200
    assert base64.b64decode(body["content"]).decode() == FILES["app/main.py"]
    assert (body["path"], body["encoding"]) == ("app/main.py", "base64")
    status, listing, _ = await gh.call("GET", f"/repos/{REPO}/contents/app")
    assert [e["name"] for e in listing] == ["main.py"]
    status, _, _ = await gh.call("GET", f"/repos/{REPO}/contents/app/nope.py")
    assert status == 404


async def test_fix_branch_and_draft_pull_request(
    gh: Client, fake_github: FakeGitHub
) -> None:
    fixed = "def handler():\n    return 0\n"
    await _branch(gh, {"app/main.py": fixed, "README.md": None}, "self-heal/zde")
    assert fake_github.file(REPO, "self-heal/zde", "app/main.py") == fixed
    assert fake_github.file(REPO, "self-heal/zde", "README.md") is None
    assert fake_github.file(REPO, "main", "app/main.py") == FILES["app/main.py"]

    sha = fake_github.branch_sha(REPO, "self-heal/zde")
    status, tree, _ = await gh.call("GET", f"/repos/{REPO}/git/trees/{sha}?recursive=1")
    assert [e["path"] for e in tree["tree"]] == ["app", "app/main.py"]

    status, cmp, _ = await gh.call("GET", f"/repos/{REPO}/compare/main...self-heal/zde")
    assert (status, cmp["status"], cmp["ahead_by"]) == (200, "ahead", 1)

    status, pr, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/pulls",
        {
            "title": "Fix ZeroDivisionError",
            "head": "self-heal/zde",
            "base": "main",
            "body": "Traceback ...",
            "draft": True,
        },
    )
    assert status == 201
    assert (pr["number"], pr["draft"], pr["head"]["ref"]) == (1, True, "self-heal/zde")
    status, again, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/pulls",
        {"title": "again", "head": "self-heal/zde", "base": "main"},
    )
    assert status == 422
    assert "already exists" in again["errors"][0]["message"]

    status, listed, _ = await gh.call(
        "GET", f"/repos/{REPO}/pulls?state=open&head=acme:self-heal/zde"
    )
    assert [p["number"] for p in listed] == [1]
    status, listed, _ = await gh.call(
        "GET", f"/repos/{REPO}/pulls?state=open&head=acme:other"
    )
    assert listed == []
    status, files, _ = await gh.call("GET", f"/repos/{REPO}/pulls/1/files")
    assert {f["filename"]: f["status"] for f in files} == {
        "README.md": "removed",
        "app/main.py": "modified",
    }
    assert "+    return 0" in files[1]["patch"]
    [stored] = fake_github.pulls(REPO)
    assert stored["draft"] is True

    status, closed, _ = await gh.call(
        "PATCH", f"/repos/{REPO}/pulls/1", {"state": "closed"}
    )
    assert (status, closed["state"], closed["merged"]) == (200, "closed", False)


async def test_non_fast_forward_ref_update_is_422_unless_forced(
    gh: Client, fake_github: FakeGitHub
) -> None:
    await _branch(gh, {"app/main.py": "x = 1\n"}, "fix")
    main = fake_github.branch_sha(REPO, "main")
    fake_github.push_commit(
        REPO, "fix", {"app/main.py": "x = 2\n"}, author_login="alice"
    )
    status, body, _ = await gh.call(
        "PATCH", f"/repos/{REPO}/git/refs/heads/fix", {"sha": main}
    )
    assert (status, body["message"]) == (422, "Update is not a fast forward")
    status, ref, _ = await gh.call(
        "PATCH", f"/repos/{REPO}/git/refs/heads/fix", {"sha": main, "force": True}
    )
    assert (status, ref["object"]["sha"]) == (200, main)


async def test_ref_creation_rules(gh: Client, fake_github: FakeGitHub) -> None:
    main = fake_github.branch_sha(REPO, "main")
    status, body, _ = await gh.call(
        "POST", f"/repos/{REPO}/git/refs", {"ref": "refs/heads/main", "sha": main}
    )
    assert (status, body["message"]) == (422, "Reference already exists")
    status, body, _ = await gh.call(
        "POST", f"/repos/{REPO}/git/refs", {"ref": "refs/heads/x", "sha": "0" * 40}
    )
    assert status == 422
    status, refs, _ = await gh.call("GET", f"/repos/{REPO}/git/matching-refs/heads/ma")
    assert [r["ref"] for r in refs] == ["refs/heads/main"]


async def test_blobs_round_trip(gh: Client) -> None:
    status, blob, _ = await gh.call(
        "POST", f"/repos/{REPO}/git/blobs", {"content": "aGk=", "encoding": "base64"}
    )
    assert status == 201
    status, got, _ = await gh.call("GET", f"/repos/{REPO}/git/blobs/{blob['sha']}")
    assert base64.b64decode(got["content"]) == b"hi"


# ----- conversation


async def test_issues_comments_labels_reactions_and_reviews(
    gh: Client, fake_github: FakeGitHub
) -> None:
    status, issue, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/issues",
        {"title": "Crash in handler", "labels": ["self-heal"]},
    )
    assert (status, issue["number"]) == (201, 1)
    status, comment, _ = await gh.call(
        "POST", f"/repos/{REPO}/issues/1/comments", {"body": "Working on it"}
    )
    assert status == 201
    status, edited, _ = await gh.call(
        "PATCH", f"/repos/{REPO}/issues/comments/{comment['id']}", {"body": "Done"}
    )
    assert edited["body"] == "Done"
    human = fake_github.add_comment(REPO, 1, "alice", "thanks")
    status, reaction, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/issues/comments/{human['id']}/reactions",
        {"content": "eyes"},
    )
    assert (status, reaction["content"]) == (201, "eyes")
    status, _, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/issues/comments/{human['id']}/reactions",
        {"content": "eyes"},
    )
    assert status == 200
    status, labels, _ = await gh.call(
        "POST", f"/repos/{REPO}/issues/1/labels", {"labels": ["bug"]}
    )
    assert [lbl["name"] for lbl in labels] == ["self-heal", "bug"]
    status, closed, _ = await gh.call(
        "PATCH",
        f"/repos/{REPO}/issues/1",
        {"state": "closed", "state_reason": "completed"},
    )
    assert closed["state"] == "closed"
    assert [c["body"] for c in fake_github.comments(REPO, 1)] == ["Done", "thanks"]
    assert fake_github.reactions[0]["content"] == "eyes"
    [stored] = fake_github.issues(REPO)
    assert stored["state"] == "closed"


async def test_review_comments_replies_and_reviewers(
    gh: Client, fake_github: FakeGitHub
) -> None:
    await _branch(gh, {"app/main.py": "x = 1\n"}, "fix")
    await gh.call(
        "POST", f"/repos/{REPO}/pulls", {"title": "t", "head": "fix", "base": "main"}
    )
    note = fake_github.add_review_comment(REPO, 1, "alice", "Why?", "app/main.py", 1)
    status, reply, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/pulls/1/comments/{note['id']}/replies",
        {"body": "Because"},
    )
    assert (status, reply["in_reply_to_id"]) == (201, note["id"])
    status, comments, _ = await gh.call("GET", f"/repos/{REPO}/pulls/1/comments")
    assert [c["body"] for c in comments] == ["Why?", "Because"]
    status, _, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/pulls/comments/{note['id']}/reactions",
        {"content": "+1"},
    )
    assert status == 201
    status, pr, _ = await gh.call(
        "POST", f"/repos/{REPO}/pulls/1/requested_reviewers", {"reviewers": ["alice"]}
    )
    assert (status, [u["login"] for u in pr["requested_reviewers"]]) == (201, ["alice"])
    status, body, _ = await gh.call(
        "POST", f"/repos/{REPO}/pulls/1/requested_reviewers", {"reviewers": ["mallory"]}
    )
    assert status == 422
    assert "collaborators" in body["message"]


async def test_permissions_and_check_runs(gh: Client, fake_github: FakeGitHub) -> None:
    status, perm, _ = await gh.call(
        "GET", f"/repos/{REPO}/collaborators/alice/permission"
    )
    assert (status, perm["permission"]) == (200, "write")
    fake_github.user("bob")
    status, perm, _ = await gh.call(
        "GET", f"/repos/{REPO}/collaborators/bob/permission"
    )
    assert perm["permission"] == "read"  # public repository
    status, _, _ = await gh.call("GET", f"/repos/{REPO}/collaborators/ghost/permission")
    assert status == 404

    head = fake_github.branch_sha(REPO, "main")
    status, run, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/check-runs",
        {"name": "self-heal", "head_sha": head, "status": "in_progress"},
    )
    assert (status, run["conclusion"]) == (201, None)
    status, _, _ = await gh.call(
        "PATCH", f"/repos/{REPO}/check-runs/{run['id']}", {"status": "completed"}
    )
    # The published request schema already demands a conclusion with "completed".
    assert status == 422
    assert any("check-runs" in v for v in fake_github.violations)
    fake_github.violations.clear()
    status, done, _ = await gh.call(
        "PATCH",
        f"/repos/{REPO}/check-runs/{run['id']}",
        {"conclusion": "success", "output": {"title": "Fixed", "summary": "PR #1"}},
    )
    assert (done["status"], done["conclusion"]) == ("completed", "success")
    assert fake_github.check_runs(REPO)[0]["output"]["title"] == "Fixed"


async def test_manifest_code_is_single_use(fake_github: FakeGitHub) -> None:
    fake_github.add_manifest_code("c0de")
    async with aiohttp.ClientSession() as session:
        client = Client(session, fake_github.url)
        status, app, _ = await client.call("POST", "/app-manifests/c0de/conversions")
        assert status == 201
        assert {"id", "slug", "pem", "webhook_secret", "client_secret"} <= set(app)
        status, _, _ = await client.call("POST", "/app-manifests/c0de/conversions")
        assert status == 404


async def test_pagination_link_header(gh: Client, fake_github: FakeGitHub) -> None:
    for n in range(3):
        await gh.call("POST", f"/repos/{REPO}/issues", {"title": f"t{n}"})
    _, page, resp = await gh.call("GET", f"/repos/{REPO}/issues?per_page=2")
    assert len(page) == 2
    assert 'rel="next"' in resp.headers["Link"]


async def test_gidgethub_client_works_against_the_stand_in(
    gh: Client, fake_github: FakeGitHub
) -> None:
    token = gh.auth.split()[1] if gh.auth else ""
    api = GitHubAPI(
        gh.session,
        "self-healing-code-tests",
        oauth_token=token,
        base_url=fake_github.url,
    )
    extra = {"X-GitHub-Api-Version": API_VERSION}
    repo = await api.getitem(f"/repos/{REPO}", extra_headers=extra)
    assert repo["default_branch"] == "main"
    titles = [
        i async for i in api.getiter(f"/repos/{REPO}/issues", extra_headers=extra)
    ]
    assert titles == []


# ----- contract checks


@pytest.fixture
def contracts_required() -> None:
    require_contracts()


async def test_contract_checking_is_on(
    contracts_required: None, fake_github: FakeGitHub
) -> None:
    assert fake_github.contract_checked


async def test_schema_breaking_response_is_a_violation(
    contracts_required: None, gh: Client, fake_github: FakeGitHub, monkeypatch: Any
) -> None:
    real = fake_github.build.git_ref

    def broken(repo: Any, ref: str) -> dict[str, Any]:
        out = real(repo, ref)
        del out["node_id"]
        out["surprise"] = True
        return out

    monkeypatch.setattr(fake_github.build, "git_ref", broken)
    status, _, _ = await gh.call("GET", f"/repos/{REPO}/git/ref/heads/main")
    assert status == 200
    found = list(fake_github.violations)
    fake_github.violations.clear()
    assert any("'node_id' is a required property" in v for v in found), found
    assert any("undocumented key 'surprise'" in v for v in found), found


async def test_schema_breaking_request_is_422_and_a_violation(
    contracts_required: None, gh: Client, fake_github: FakeGitHub
) -> None:
    status, body, _ = await gh.call(
        "POST",
        f"/repos/{REPO}/pulls",
        {"title": "t", "head": "x", "base": "main", "draft": "yes"},
    )
    assert status == 422
    assert body["message"].startswith("Invalid request")
    found = list(fake_github.violations)
    fake_github.violations.clear()
    assert any("draft" in v for v in found), found


async def test_unimplemented_endpoint_is_a_violation(
    gh: Client, fake_github: FakeGitHub
) -> None:
    status, _, _ = await gh.call("GET", f"/repos/{REPO}/branches")
    assert status == 404
    found = list(fake_github.violations)
    fake_github.violations.clear()
    assert any("no such endpoint" in v for v in found)


async def test_calls_are_recorded(gh: Client, fake_github: FakeGitHub) -> None:
    await gh.call("GET", f"/repos/{REPO}")
    assert ("GET", f"/repos/{REPO}", 200) in fake_github.calls
    assert fake_github.calls[0] == ("POST", "/app/installations/7/access_tokens", 201)


def test_checker_flags_a_response_missing_required_keys(
    contracts_required: None, app_key: Any
) -> None:
    fake = FakeGitHub(APP_ID, app_key.public_pem)
    errors = fake.check_response(
        "GET", "/repos/o/r/git/ref/heads%2Fmain", 200, {"ref": "x"}
    )
    assert any("'object' is a required property" in e for e in errors)


# ----- contract files


def test_missing_contracts_skip_locally_and_fail_in_ci(
    tmp_path: Any, monkeypatch: Any
) -> None:
    from bot.testing import contracts

    monkeypatch.setenv("SELF_HEAL_CONTRACTS_DIR", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SELF_HEAL_REQUIRE_CONTRACTS", raising=False)
    assert not contracts.contracts_available()
    assert contracts.github_openapi_path().parent.parent == tmp_path
    with pytest.raises(pytest.skip.Exception, match="scripts/fetch-contracts"):
        require_contracts()
    monkeypatch.setenv("SELF_HEAL_REQUIRE_CONTRACTS", "1")
    with pytest.raises(pytest.fail.Exception, match="scripts/fetch-contracts"):
        require_contracts()
    monkeypatch.delenv("SELF_HEAL_REQUIRE_CONTRACTS")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require_contracts()


async def test_without_contracts_the_stand_in_runs_unchecked(
    tmp_path: Any, monkeypatch: Any, app_key: Any
) -> None:
    monkeypatch.setenv("SELF_HEAL_CONTRACTS_DIR", str(tmp_path))
    fake = FakeGitHub(APP_ID, app_key.public_pem)
    assert fake.contract_checked is False
    fake.add_installation(7, "acme")
    async with fake.serve(), aiohttp.ClientSession() as session:
        client = Client(session, fake.url)
        client.auth = f"Bearer {app_jwt(app_key.private_pem)}"
        status, _, _ = await client.call("GET", "/app")
    assert status == 200
    assert fake.violations == []


async def test_undocumented_404_is_not_a_violation(gh: Client) -> None:
    # GitHub's description omits 404 for reactions, but GitHub sends it.
    status, body, _ = await gh.call(
        "POST", f"/repos/{REPO}/issues/comments/999999/reactions", {"content": "+1"}
    )
    assert (status, body["message"]) == (404, "Not Found")
