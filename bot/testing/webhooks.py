"""Webhook deliveries built from GitHub's published examples and schemas.

Payloads start from ``@octokit/webhooks-examples`` and are checked against
``@octokit/openapi-webhooks``; the builders rewrite ids, names and logins so a
delivery matches the state of a ``FakeGitHub``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.testing import contracts

if TYPE_CHECKING:
    import aiohttp

    from bot.testing.github import FakeGitHub, Repo, User

Json = dict[str, Any]
_DOC_URI = "urn:self-heal:openapi-webhooks"


# --------------------------------------------------------------------------
# Examples and schemas


def example(event: str, action: str | None = None, **overrides: Any) -> Json:
    """A deep copy of the first published example; ``overrides`` replace top keys."""
    for group in contracts.webhook_examples():
        if group["name"] != event:
            continue
        for candidate in group["examples"]:
            if candidate.get("action") == action:
                payload = copy.deepcopy(candidate)
                payload.update(copy.deepcopy(overrides))
                return payload
        raise KeyError(f"no {event!r} example with action {action!r}")
    raise KeyError(f"no examples for event {event!r}")


def webhook_name(event: str, payload: Json) -> str:
    """The key under ``webhooks`` in the description, e.g. ``issue-comment-created``."""
    base = event.replace("_", "-")
    action = payload.get("action")
    hooks = contracts.webhooks_document()["webhooks"]
    if action is not None and f"{base}-{action.replace('_', '-')}" in hooks:
        return f"{base}-{action.replace('_', '-')}"
    return base


@functools.cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    document = contracts.webhooks_document()
    hook = document["webhooks"].get(name)
    if hook is None:
        raise KeyError(f"the webhooks description has no {name!r}")
    body = hook["post"]["requestBody"]["content"]["application/json"]["schema"]
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource(_DOC_URI, resource)
    schema = {"$ref": f"{_DOC_URI}{body['$ref']}"} if "$ref" in body else body
    return Draft202012Validator(
        schema,
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def validate(event: str, payload: Json) -> list[str]:
    """Schema errors for ``payload`` as the ``event`` webhook; empty when valid."""
    validator = _validator(webhook_name(event, payload))
    errors = sorted(
        validator.iter_errors(payload), key=lambda e: [str(p) for p in e.path]
    )
    out = []
    for err in errors:
        where = "/".join(str(p) for p in err.absolute_path) or "<root>"
        out.append(f"{where}: {err.message[:300]}")
    return out


# --------------------------------------------------------------------------
# Delivery


def signed(
    secret: str, event: str, payload: Json, delivery_id: str | None = None
) -> tuple[dict[str, str], bytes]:
    """Headers and body as GitHub sends them, signed with ``secret``."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    installation = payload.get("installation") or {}
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/self-heal-tests",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "424242001",
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-GitHub-Hook-Installation-Target-ID": str(installation.get("id", "0")),
        "X-Hub-Signature-256": f"sha256={digest}",
    }
    return headers, body


async def post(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    event: str,
    payload: Json,
    *,
    delivery_id: str | None = None,
    check: bool = True,
) -> aiohttp.ClientResponse:
    """Validate ``payload`` (AssertionError if invalid) and deliver it; body is read."""
    if check:
        errors = validate(event, payload)
        assert not errors, f"{event} payload breaks the webhook schema:\n" + "\n".join(
            errors
        )
    headers, body = signed(secret, event, payload, delivery_id)
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response


# --------------------------------------------------------------------------
# Rewriting examples to match a FakeGitHub


def _replace_strings(node: Any, old: str, new: str) -> Any:
    """Rewrite ``old`` inside every string (URLs embed names and logins)."""
    if isinstance(node, dict):
        return {k: _replace_strings(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_strings(v, old, new) for v in node]
    if isinstance(node, str):
        return node.replace(old, new)
    return node


def _as_user(template: Json | None, fake: FakeGitHub, user: User) -> Json:
    """The example's user object, rewritten to be ``user``."""
    base = template if isinstance(template, dict) else fake.build.simple_user(user)
    out = _replace_strings(base, base.get("login", ""), user.login) if base else {}
    out.update(
        {
            "login": user.login,
            "id": user.id,
            "node_id": fake.build.simple_user(user)["node_id"],
            "type": user.type,
        }
    )
    return out


def _as_repo(template: Json, fake: FakeGitHub, repo: Repo) -> Json:
    out = _replace_strings(template, template["full_name"], repo.full_name)
    out.update(
        {
            "id": repo.id,
            "node_id": fake.build.repository(repo)["node_id"],
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "default_branch": repo.default_branch,
            "owner": _as_user(out.get("owner"), fake, repo.owner),
        }
    )
    # Keys the current schema requires but the (older) examples lack.
    out.setdefault("has_discussions", False)
    out.setdefault("topics", [])
    out["visibility"] = "private" if repo.private else "public"
    if "master_branch" in out:
        out["master_branch"] = repo.default_branch
    return out


def _short_repo(fake: FakeGitHub, repo: Repo) -> Json:
    return {
        "id": repo.id,
        "node_id": fake.build.repository(repo)["node_id"],
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
    }


def _installation_ref(fake: FakeGitHub, installation_id: int) -> Json:
    from bot.testing.github import _node_id

    return {"id": installation_id, "node_id": _node_id("MI", installation_id)}


def _repo_event(fake: FakeGitHub, template: Json, full_name: str, sender: str) -> Json:
    """Rewrite the parts every repository event shares."""
    repo = fake.repo(full_name)
    template["repository"] = _as_repo(template["repository"], fake, repo)
    template["sender"] = _as_user(template.get("sender"), fake, fake.user(sender))
    template["installation"] = _installation_ref(fake, repo.installation_id)
    if "organization" in template and repo.owner.type != "Organization":
        del template["organization"]
    elif "organization" in template:
        org = template["organization"]
        template["organization"] = _replace_strings(org, org["login"], repo.owner.login)
        template["organization"].update(
            {"login": repo.owner.login, "id": repo.owner.id}
        )
    return template


def _installation_event(
    fake: FakeGitHub, action: str, installation_id: int, sender: str | None
) -> Json:
    payload = example("installation", action)
    inst = fake.installation(installation_id)
    rest = fake.installation_json(installation_id)
    installation = payload["installation"]
    installation.update(
        {
            key: rest[key]
            for key in (
                "id",
                "app_id",
                "target_id",
                "target_type",
                "access_tokens_url",
                "repositories_url",
                "html_url",
                "created_at",
                "updated_at",
            )
        }
    )
    installation["account"] = _as_user(installation["account"], fake, inst.account)
    installation["app_slug"] = fake.slug
    if action == "suspend":
        installation["suspended_at"] = rest["suspended_at"] or rest["updated_at"]
        installation["suspended_by"] = _as_user(
            installation.get("suspended_by"), fake, fake.user(sender or "octocat")
        )
    else:
        installation["suspended_at"] = None
        installation["suspended_by"] = None
    payload["repositories"] = [_short_repo(fake, fake.repo(n)) for n in inst.repos]
    payload["sender"] = _as_user(
        payload.get("sender"), fake, fake.user(sender or inst.account.login)
    )
    payload.pop("requester", None)
    return payload


def installation_created(
    fake: FakeGitHub, installation_id: int, sender: str | None = None
) -> Json:
    return _installation_event(fake, "created", installation_id, sender)


def installation_deleted(
    fake: FakeGitHub, installation_id: int, sender: str | None = None
) -> Json:
    return _installation_event(fake, "deleted", installation_id, sender)


def installation_suspend(
    fake: FakeGitHub, installation_id: int, sender: str | None = None
) -> Json:
    return _installation_event(fake, "suspend", installation_id, sender)


def installation_unsuspend(
    fake: FakeGitHub, installation_id: int, sender: str | None = None
) -> Json:
    return _installation_event(fake, "unsuspend", installation_id, sender)


def _installation_repositories(
    fake: FakeGitHub,
    action: str,
    installation_id: int,
    full_names: Iterable[str],
    sender: str | None,
) -> Json:
    payload = example("installation_repositories", action)
    inst = fake.installation(installation_id)
    rest = fake.installation_json(installation_id)
    installation = payload["installation"]
    for key in ("id", "app_id", "target_id", "target_type", "html_url"):
        installation[key] = rest[key]
    for key in ("access_tokens_url", "repositories_url", "created_at", "updated_at"):
        installation[key] = rest[key]
    installation["account"] = _as_user(installation["account"], fake, inst.account)
    installation["app_slug"] = fake.slug
    installation["suspended_at"] = rest["suspended_at"]
    installation["suspended_by"] = rest["suspended_by"]
    payload["repository_selection"] = "selected"
    installation["repository_selection"] = "selected"
    repos = [_short_repo(fake, fake.repo(n)) for n in full_names]
    payload["repositories_added"] = repos if action == "added" else []
    payload["repositories_removed"] = repos if action == "removed" else []
    payload["sender"] = _as_user(
        payload.get("sender"), fake, fake.user(sender or inst.account.login)
    )
    payload["requester"] = None
    return payload


def installation_repositories_added(
    fake: FakeGitHub,
    installation_id: int,
    full_names: Iterable[str],
    sender: str | None = None,
) -> Json:
    """Repositories (already ``add_repo``'d) granted to the installation."""
    return _installation_repositories(
        fake, "added", installation_id, full_names, sender
    )


def installation_repositories_removed(
    fake: FakeGitHub,
    installation_id: int,
    full_names: Iterable[str],
    sender: str | None = None,
) -> Json:
    return _installation_repositories(
        fake, "removed", installation_id, full_names, sender
    )


def ping(fake: FakeGitHub, hook_id: int = 424242001) -> Json:
    """The ping GitHub sends when an App's webhook is created."""
    payload = example("ping")
    payload.pop("repository", None)
    payload["hook_id"] = hook_id
    hook = payload["hook"]
    hook.update({"type": "App", "id": hook_id, "app_id": fake.app_id, "events": ["*"]})
    for key in ("test_url", "ping_url", "last_response"):
        hook.pop(key, None)
    hook["url"] = f"{fake.url}/app/hook/config"
    payload["sender"] = _as_user(payload.get("sender"), fake, fake.owner)
    return payload


def push(
    fake: FakeGitHub,
    full_name: str,
    branch: str,
    before: str,
    *,
    pusher: str = "octocat",
) -> Json:
    """A push of ``before..<branch head>`` (use ``FakeGitHub.push_commit`` first)."""
    repo = fake.repo(full_name)
    after = repo.refs[f"refs/heads/{branch}"]
    payload = example("push")
    payload = _repo_event(fake, payload, full_name, pusher)
    commits = [
        fake.push_commit_json(full_name, sha)
        for sha in fake.commits_between(full_name, before, after)
    ]
    payload.update(
        {
            "ref": f"refs/heads/{branch}",
            "before": before,
            "after": after,
            "created": False,
            "deleted": False,
            "forced": False,
            "base_ref": None,
            "compare": f"https://github.com/{full_name}/compare/"
            f"{before[:12]}...{after[:12]}",
            "commits": commits,
            "head_commit": commits[-1] if commits else None,
            "pusher": {
                "name": pusher,
                "email": f"{pusher}@users.noreply.github.com",
            },
        }
    )
    return payload


def _as_pull(template: Json, fake: FakeGitHub, full_name: str, number: int) -> Json:
    """The example's pull request, rewritten to be this one."""
    repo = fake.repo(full_name)
    live = fake.pull(full_name, number)
    out = _replace_strings(template, template["base"]["repo"]["full_name"], full_name)
    for key in (
        "url",
        "id",
        "node_id",
        "html_url",
        "diff_url",
        "patch_url",
        "issue_url",
        "number",
        "state",
        "title",
        "body",
        "created_at",
        "updated_at",
        "closed_at",
        "merged_at",
        "merge_commit_sha",
        "commits_url",
        "review_comments_url",
        "review_comment_url",
        "comments_url",
        "statuses_url",
        "_links",
        "author_association",
        "draft",
        "auto_merge",
        "active_lock_reason",
    ):
        if key in live:
            out[key] = live[key]
    for key in ("merged", "comments", "review_comments", "commits", "additions"):
        if key in out and key in live:
            out[key] = live[key]
    for key in ("deletions", "changed_files", "maintainer_can_modify"):
        if key in out and key in live:
            out[key] = live[key]
    if "merged_by" in out:
        merged_by = live.get("merged_by")
        out["merged_by"] = (
            _as_user(out["merged_by"], fake, fake.user(merged_by["login"]))
            if merged_by
            else None
        )
    out["user"] = _as_user(out["user"], fake, fake.user(live["user"]["login"]))
    out["labels"] = []
    out["assignee"] = None
    out["assignees"] = []
    out["requested_reviewers"] = [
        _as_user(None, fake, fake.user(u["login"])) for u in live["requested_reviewers"]
    ]
    out["requested_teams"] = []
    for side in ("head", "base"):
        part = out[side]
        part.update(
            {
                "ref": live[side]["ref"],
                "sha": live[side]["sha"],
                "label": live[side]["label"],
                "user": _as_user(part["user"], fake, repo.owner),
                "repo": _as_repo(part["repo"], fake, repo),
            }
        )
    return out


def pull_request_closed(
    fake: FakeGitHub, full_name: str, number: int, sender: str = "octocat"
) -> Json:
    """After ``FakeGitHub.close_pull``; ``merged`` follows the fake's state."""
    payload = _repo_event(fake, example("pull_request", "closed"), full_name, sender)
    payload["number"] = number
    payload["pull_request"] = _as_pull(payload["pull_request"], fake, full_name, number)
    return payload


def pull_request_reopened(
    fake: FakeGitHub, full_name: str, number: int, sender: str = "octocat"
) -> Json:
    """After ``FakeGitHub.reopen_pull``."""
    payload = _repo_event(fake, example("pull_request", "reopened"), full_name, sender)
    payload["number"] = number
    payload["pull_request"] = _as_pull(payload["pull_request"], fake, full_name, number)
    return payload


def _no_reactions(url: str) -> Json:
    counts = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")
    return {"url": url, "total_count": 0, **dict.fromkeys(counts, 0)}


def _as_comment(template: Json, fake: FakeGitHub, live: Json) -> Json:
    out = copy.deepcopy(template)
    for key, value in live.items():
        if key in out or key in ("reactions", "performed_via_github_app"):
            out[key] = value
    out["user"] = _as_user(template.get("user"), fake, fake.user(live["user"]["login"]))
    return out


def _issue_comment(
    fake: FakeGitHub,
    action: str,
    full_name: str,
    number: int,
    comment_id: int,
    sender: str | None,
) -> Json:
    repo = fake.repo(full_name)
    payload = example("issue_comment", action)
    live_comment = next(
        c for c in fake.comments(full_name, number) if c["id"] == comment_id
    )
    sender = sender or live_comment["user"]["login"]
    payload = _repo_event(fake, payload, full_name, sender)
    live_issue = fake.issue_json(full_name, number)
    issue = _replace_strings(payload["issue"], "Codertocat/Hello-World", full_name)
    for key, value in live_issue.items():
        if key in issue or key in ("pull_request", "state_reason"):
            issue[key] = value
    issue["user"] = _as_user(
        issue["user"], fake, fake.user(live_issue["user"]["login"])
    )
    issue["labels"] = live_issue["labels"]
    issue["assignee"] = None
    issue["assignees"] = []
    issue.setdefault("active_lock_reason", None)
    issue["reactions"] = _no_reactions(f"{live_issue['url']}/reactions")
    if not repo.issues[number].is_pull:
        issue.pop("pull_request", None)
    payload["issue"] = issue
    comment = _as_comment(payload["comment"], fake, live_comment)
    comment.setdefault("performed_via_github_app", None)
    payload["comment"] = comment
    return payload


def issue_comment_created(
    fake: FakeGitHub,
    full_name: str,
    number: int,
    comment_id: int,
    sender: str | None = None,
) -> Json:
    """For a comment made with ``FakeGitHub.add_comment`` (or by the bot)."""
    return _issue_comment(fake, "created", full_name, number, comment_id, sender)


def issue_comment_edited(
    fake: FakeGitHub,
    full_name: str,
    number: int,
    comment_id: int,
    old_body: str,
    sender: str | None = None,
) -> Json:
    payload = _issue_comment(fake, "edited", full_name, number, comment_id, sender)
    payload["changes"] = {"body": {"from": old_body}}
    return payload


def pull_request_review_submitted(
    fake: FakeGitHub, full_name: str, number: int, review_id: int
) -> Json:
    """For a review made with ``FakeGitHub.add_review``."""
    live = fake.review(review_id)
    payload = example("pull_request_review", "submitted")
    payload = _repo_event(fake, payload, full_name, live["user"]["login"])
    payload["pull_request"] = _as_pull(payload["pull_request"], fake, full_name, number)
    review = _as_comment(payload["review"], fake, live)
    review["state"] = live["state"].lower()
    payload["review"] = review
    return payload


def pull_request_review_comment_created(
    fake: FakeGitHub, full_name: str, number: int, comment_id: int
) -> Json:
    """For a comment made with ``FakeGitHub.add_review_comment``."""
    live = next(
        c for c in fake.review_comments(full_name, number) if c["id"] == comment_id
    )
    payload = example("pull_request_review_comment", "created")
    payload = _repo_event(fake, payload, full_name, live["user"]["login"])
    payload["pull_request"] = _as_pull(payload["pull_request"], fake, full_name, number)
    comment = _as_comment(payload["comment"], fake, live)
    # The webhook schema wants line and position data the examples predate.
    comment.setdefault("position", live["line"])
    comment.setdefault("original_position", live["line"])
    comment.update(
        {
            "line": live["line"],
            "original_line": live["original_line"],
            "side": live["side"],
            "start_line": None,
            "original_start_line": None,
            "start_side": None,
        }
    )
    if live.get("in_reply_to_id") is not None:
        # GitHub names the thread's first comment on every reply.
        comment["in_reply_to_id"] = live["in_reply_to_id"]
    payload["comment"] = comment
    return payload
