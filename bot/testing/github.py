"""An in-memory GitHub REST API stand-in that follows GitHub's published contract.

Every request and response is checked against ``@octokit/openapi`` (see
``bot.testing.contracts``); mismatches land in ``FakeGitHub.violations``.
"""

from __future__ import annotations

import base64
import difflib
import functools
import hashlib
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import jwt
from aiohttp import web
from multidict import MultiMapping

from bot.testing import contracts
from bot.testing.loopback import LoopbackServer

API_VERSION = "2022-11-28"
SPEC_HOST = "https://api.github.com"
WEB_HOST = "https://github.com"
DOCS_URL = "https://docs.github.com/rest"
RATE_LIMIT = 5000

Json = dict[str, Any]


class GitHubError(Exception):
    """Raised by handlers; rendered as GitHub's error JSON."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[Any] | None = None,
        doc: str = DOCS_URL,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.doc = doc

    def body(self) -> Json:
        out: Json = {"message": self.message, "documentation_url": self.doc}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def _not_found() -> GitHubError:
    return GitHubError(404, "Not Found")


def _unprocessable(message: str, errors: list[Any] | None = None) -> GitHubError:
    return GitHubError(422, message, errors=errors)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _node_id(kind: str, ident: int | str) -> str:
    return base64.b64encode(f"0:{kind}{ident}".encode()).decode().rstrip("=")


def _git_hash(kind: str, payload: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(payload)}\0".encode() + payload).hexdigest()


# --------------------------------------------------------------------------
# In-memory state


@dataclass
class User:
    login: str
    id: int
    type: str = "User"


@dataclass
class Installation:
    id: int
    account: User
    created_at: datetime
    repos: list[str] = field(default_factory=list)
    suspended_at: datetime | None = None


@dataclass
class Issue:
    """An issue or a pull request (GitHub numbers them from one sequence)."""

    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    # Pull-request only
    is_pull: bool = False
    pull_id: int = 0
    head: str = ""
    base: str = ""
    head_sha: str = ""
    draft: bool = False
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    requested_reviewers: list[str] = field(default_factory=list)
    maintainer_can_modify: bool = False


@dataclass
class Repo:
    id: int
    owner: User
    name: str
    installation_id: int
    private: bool
    default_branch: str
    created_at: datetime
    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, list[Json]] = field(default_factory=dict)
    commits: dict[str, Json] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    labels: dict[str, Json] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


# --------------------------------------------------------------------------
# Object builders: one per schema so the shapes live in a single place.


class Builders:
    """Renders state as the JSON objects named in GitHub's OpenAPI schemas."""

    def __init__(self, api: str) -> None:
        self.api = api

    def simple_user(self, user: User) -> Json:
        """``simple-user``."""
        u = f"{self.api}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": _node_id("U", user.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": u,
            "html_url": f"{WEB_HOST}/{user.login}",
            "followers_url": f"{u}/followers",
            "following_url": f"{u}/following{{/other_user}}",
            "gists_url": f"{u}/gists{{/gist_id}}",
            "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{u}/subscriptions",
            "organizations_url": f"{u}/orgs",
            "repos_url": f"{u}/repos",
            "events_url": f"{u}/events{{/privacy}}",
            "received_events_url": f"{u}/received_events",
            "type": user.type,
            "site_admin": False,
        }

    def repository(self, repo: Repo, *, full: bool = False) -> Json:
        """``repository`` (or ``full-repository`` with ``full=True``)."""
        u = f"{self.api}/repos/{repo.full_name}"
        created = iso(repo.created_at)
        out: Json = {
            "id": repo.id,
            "node_id": _node_id("R", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.simple_user(repo.owner),
            "private": repo.private,
            "html_url": f"{WEB_HOST}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": u,
            "archive_url": f"{u}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{u}/assignees{{/user}}",
            "blobs_url": f"{u}/git/blobs{{/sha}}",
            "branches_url": f"{u}/branches{{/branch}}",
            "collaborators_url": f"{u}/collaborators{{/collaborator}}",
            "comments_url": f"{u}/comments{{/number}}",
            "commits_url": f"{u}/commits{{/sha}}",
            "compare_url": f"{u}/compare/{{base}}...{{head}}",
            "contents_url": f"{u}/contents/{{+path}}",
            "contributors_url": f"{u}/contributors",
            "deployments_url": f"{u}/deployments",
            "downloads_url": f"{u}/downloads",
            "events_url": f"{u}/events",
            "forks_url": f"{u}/forks",
            "git_commits_url": f"{u}/git/commits{{/sha}}",
            "git_refs_url": f"{u}/git/refs{{/sha}}",
            "git_tags_url": f"{u}/git/tags{{/sha}}",
            "git_url": f"git://github.com/{repo.full_name}.git",
            "issue_comment_url": f"{u}/issues/comments{{/number}}",
            "issue_events_url": f"{u}/issues/events{{/number}}",
            "issues_url": f"{u}/issues{{/number}}",
            "keys_url": f"{u}/keys{{/key_id}}",
            "labels_url": f"{u}/labels{{/name}}",
            "languages_url": f"{u}/languages",
            "merges_url": f"{u}/merges",
            "milestones_url": f"{u}/milestones{{/number}}",
            "notifications_url": f"{u}/notifications{{?since,all,participating}}",
            "pulls_url": f"{u}/pulls{{/number}}",
            "releases_url": f"{u}/releases{{/id}}",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "stargazers_url": f"{u}/stargazers",
            "statuses_url": f"{u}/statuses/{{sha}}",
            "subscribers_url": f"{u}/subscribers",
            "subscription_url": f"{u}/subscription",
            "tags_url": f"{u}/tags",
            "teams_url": f"{u}/teams",
            "trees_url": f"{u}/git/trees{{/sha}}",
            "clone_url": f"{WEB_HOST}/{repo.full_name}.git",
            "mirror_url": None,
            "hooks_url": f"{u}/hooks",
            "svn_url": f"{WEB_HOST}/{repo.full_name}",
            "homepage": None,
            "language": "Python",
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": sum(len(b) for b in repo.blobs.values()) // 1024,
            "default_branch": repo.default_branch,
            "open_issues_count": sum(
                1 for i in repo.issues.values() if i.state == "open"
            ),
            "open_issues": sum(1 for i in repo.issues.values() if i.state == "open"),
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "license": None,
            "pushed_at": created,
            "created_at": created,
            "updated_at": created,
        }
        if full:
            out["network_count"] = 0
            out["subscribers_count"] = 0
        else:
            out["has_downloads"] = True
        return out

    def label(self, repo: Repo, name: str) -> Json:
        """``label``."""
        data = repo.labels[name]
        return {
            "id": data["id"],
            "node_id": _node_id("LA", data["id"]),
            "url": f"{self.api}/repos/{repo.full_name}/labels/{quote(name)}",
            "name": name,
            # Nullable in `label` but a plain string inside `pull-request`'s
            # labels; "" satisfies both.
            "description": "",
            "color": data["color"],
            "default": False,
        }

    def git_user(self, who: Json) -> Json:
        return {"name": who["name"], "email": who["email"], "date": who["date"]}

    def git_commit(self, repo: Repo, sha: str) -> Json:
        """``git-commit``."""
        c = repo.commits[sha]
        u = f"{self.api}/repos/{repo.full_name}/git/commits"
        return {
            "sha": sha,
            "node_id": _node_id("C", sha[:12]),
            "url": f"{u}/{sha}",
            "html_url": f"{WEB_HOST}/{repo.full_name}/commit/{sha}",
            "author": self.git_user(c["author"]),
            "committer": self.git_user(c["committer"]),
            "tree": {
                "sha": c["tree"],
                "url": f"{self.api}/repos/{repo.full_name}/git/trees/{c['tree']}",
            },
            "message": c["message"],
            "parents": [
                {
                    "sha": p,
                    "url": f"{u}/{p}",
                    "html_url": f"{WEB_HOST}/{repo.full_name}/commit/{p}",
                }
                for p in c["parents"]
            ],
            "verification": self._unverified(),
        }

    @staticmethod
    def _unverified() -> Json:
        return {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        }

    def commit(self, repo: Repo, sha: str, users: dict[str, User]) -> Json:
        """``commit`` (the REST commits/compare shape)."""
        c = repo.commits[sha]
        u = f"{self.api}/repos/{repo.full_name}"
        author = users.get(c.get("login") or "")
        return {
            "url": f"{u}/commits/{sha}",
            "sha": sha,
            "node_id": _node_id("C", sha[:12]),
            "html_url": f"{WEB_HOST}/{repo.full_name}/commit/{sha}",
            "comments_url": f"{u}/commits/{sha}/comments",
            "commit": {
                "url": f"{u}/git/commits/{sha}",
                "author": self.git_user(c["author"]),
                "committer": self.git_user(c["committer"]),
                "message": c["message"],
                "comment_count": 0,
                "tree": {"sha": c["tree"], "url": f"{u}/git/trees/{c['tree']}"},
                "verification": self._unverified(),
            },
            "author": self.simple_user(author) if author else None,
            "committer": self.simple_user(author) if author else None,
            "parents": [
                {
                    "sha": p,
                    "url": f"{u}/commits/{p}",
                    "html_url": f"{WEB_HOST}/{repo.full_name}/commit/{p}",
                }
                for p in c["parents"]
            ],
        }

    def git_ref(self, repo: Repo, ref: str) -> Json:
        """``git-ref``."""
        sha = repo.refs[ref]
        return {
            "ref": ref,
            "node_id": _node_id("REF", ref),
            "url": f"{self.api}/repos/{repo.full_name}/git/{ref}",
            "object": {
                "type": "commit",
                "sha": sha,
                "url": f"{self.api}/repos/{repo.full_name}/git/commits/{sha}",
            },
        }

    def diff_entry(
        self, repo: Repo, path: str, old: str | None, new: str | None
    ) -> Json:
        """``diff-entry``, with a unified-diff ``patch`` like GitHub's."""
        old_text = repo.blobs[old].decode(errors="replace") if old else ""
        new_text = repo.blobs[new].decode(errors="replace") if new else ""
        lines = list(
            difflib.unified_diff(
                old_text.splitlines(), new_text.splitlines(), lineterm="", n=3
            )
        )[2:]
        additions = sum(1 for ln in lines if ln.startswith("+"))
        deletions = sum(1 for ln in lines if ln.startswith("-"))
        sha = new or old
        status = "added" if old is None else "removed" if new is None else "modified"
        ref = sha or ""
        return {
            "sha": sha,
            "filename": path,
            "status": status,
            "additions": additions,
            "deletions": deletions,
            "changes": additions + deletions,
            "blob_url": f"{WEB_HOST}/{repo.full_name}/blob/{ref}/{path}",
            "raw_url": f"{WEB_HOST}/{repo.full_name}/raw/{ref}/{path}",
            "contents_url": (
                f"{self.api}/repos/{repo.full_name}/contents/{path}?ref={ref}"
            ),
            "patch": "\n".join(lines),
        }


# --------------------------------------------------------------------------
# openapi-core adapters


class _SpecRequest:
    """A request as openapi-core sees it, re-hosted on api.github.com."""

    def __init__(
        self,
        method: str,
        path: str,
        query: MultiMapping[str],
        headers: MultiMapping[str],
        body: bytes,
        content_type: str,
    ) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = SPEC_HOST
        self.path = path
        self.method = method.lower()
        self.body = body or None
        self.content_type = content_type
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(query.items())),
            header=Headers(list(headers.items())),
            cookie=ImmutableMultiDict(),
        )


class _SpecResponse:
    def __init__(self, status: int, headers: MultiMapping[str], data: bytes) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = status
        self.headers = Headers(list(headers.items()))
        self.data = data
        self.content_type = headers.get("Content-Type", "application/json").lower()


def _describe(exc: BaseException) -> str:
    """Flatten openapi-core's exception chain into one readable line."""
    parts: list[str] = []
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if any(getattr(e, "schema_errors", None) for e in chain):
        chain = [e for e in chain if getattr(e, "schema_errors", None)]
    for seen in chain:
        schema_errors = getattr(seen, "schema_errors", None)
        if schema_errors:
            # The exception text repeats the whole value; the errors say more.
            for err in schema_errors:
                where = "/".join(str(p) for p in err.absolute_path) or "<root>"
                parts.append(f"at {where}: {err.message[:300]}")
        else:
            text = str(seen)[:300]
            parts.append(
                f"{type(seen).__name__}: {text}" if text else type(seen).__name__
            )
        seen = seen.__cause__ or seen.__context__
    return "; ".join(dict.fromkeys(parts))


def _template_key(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


@functools.cache
def _path_index() -> dict[str, str]:
    paths = contracts.github_openapi_document()["paths"]
    return {_template_key(p): p for p in paths}


def _response_schema(route: str, method: str, status: int) -> Json | None:
    """The JSON schema GitHub documents for this route's answer, if any."""
    document = contracts.github_openapi_document()
    template = _path_index().get(_template_key(route))
    if template is None:
        return None
    operation = document["paths"][template].get(method.lower(), {})
    answer = operation.get("responses", {}).get(str(status))
    if answer is None:
        return None
    answer = _resolve(document, answer)
    return answer.get("content", {}).get("application/json", {}).get("schema")


def unknown_keys(
    document: Json, schema: Json, value: Any, where: str = ""
) -> list[str]:
    """Keys in ``value`` that ``schema`` does not declare anywhere.

    openapi-core's "forbid additional properties" policy misfires on allOf/anyOf
    compositions, so this walks the schema itself, merging every branch.
    """
    props, open_ended, items = _schema_shape(document, schema)
    found: list[str] = []
    if isinstance(value, dict) and not open_ended and props is not None:
        for key, item in value.items():
            if key not in props:
                found.append(f"{where or '<root>'}: undocumented key {key!r}")
                continue
            for sub in props[key]:
                found += unknown_keys(document, sub, item, f"{where}/{key}")
    elif isinstance(value, list) and items:
        for i, item in enumerate(value):
            for sub in items:
                found += unknown_keys(document, sub, item, f"{where}/{i}")
    return list(dict.fromkeys(found))


def _resolve(document: Json, schema: Json) -> Json:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _schema_shape(
    document: Json, schema: Json
) -> tuple[dict[str, list[Json]] | None, bool, list[Json]]:
    """Declared properties (merged over branches), open-endedness, item schemas."""
    schema = _resolve(document, schema)
    props: dict[str, list[Json]] | None = None
    open_ended = schema.get("additionalProperties") not in (None, False)
    items: list[Json] = [schema["items"]] if "items" in schema else []
    if "properties" in schema:
        props = {k: [v] for k, v in schema["properties"].items()}
    for branch in (
        schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", [])
    ):
        sub_props, sub_open, sub_items = _schema_shape(document, branch)
        open_ended = open_ended or sub_open
        items += sub_items
        if sub_props is not None:
            props = props or {}
            for k, v in sub_props.items():
                props.setdefault(k, []).extend(v)
    return props, open_ended, items


# --------------------------------------------------------------------------
# The stand-in


def _auth(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Tag a handler with the credentials GitHub requires for it."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.auth_kind = kind  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass
class _Ctx:
    """What the auth layer learned about the caller."""

    installation_id: int | None = None
    token: str | None = None


_CTX = web.RequestKey("ctx", _Ctx)
_PAYLOAD = web.RequestKey("payload", Any)


class FakeGitHub(LoopbackServer):
    """GitHub's REST API for one GitHub App, in memory, on 127.0.0.1."""

    def __init__(
        self, app_id: int, public_key_pem: str, *, slug: str = "self-healing-code"
    ) -> None:
        self.app_id = app_id
        self.public_key_pem = public_key_pem
        self.slug = slug
        self.calls: list[tuple[str, str, int]] = []
        self.violations: list[str] = []
        self._openapi = contracts.github_openapi()
        self.contract_checked = self._openapi is not None
        self._ids = itertools.count(1001)
        self._users: dict[str, User] = {}
        self._installations: dict[int, Installation] = {}
        self._repos: dict[str, Repo] = {}
        self._tokens: dict[str, tuple[int, datetime]] = {}
        self._permissions: dict[tuple[str, str], str] = {}
        self._manifest_codes: set[str] = set()
        self._issue_comments: dict[int, Json] = {}
        self._review_comments: dict[int, Json] = {}
        self._reviews: dict[int, Json] = {}
        self._reactions: list[Json] = []
        self._check_runs: dict[int, Json] = {}
        self._rate_used: dict[str, int] = {}
        self._rate_reset = int(time.time()) + 3600
        self.created_at = _now() - timedelta(days=30)
        self.owner = self._user("self-heal-org", "Organization")
        self.bot = self._user(f"{slug}[bot]", "Bot")
        self.build = Builders("")

    # ----- lifecycle

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        self._routes(app)
        return app

    async def start(self) -> str:
        url = await super().start()
        self.build = Builders(url)
        return url

    # ----- seeding

    def _user(self, login: str, type_: str = "User") -> User:
        if login not in self._users:
            self._users[login] = User(login, next(self._ids), type_)
        return self._users[login]

    def add_installation(
        self,
        installation_id: int,
        account_login: str,
        account_type: str = "Organization",
    ) -> Installation:
        if account_type not in ("Organization", "User"):
            raise ValueError("account_type must be 'Organization' or 'User'")
        account = self._user(account_login, account_type)
        inst = Installation(installation_id, account, _now() - timedelta(days=1))
        self._installations[installation_id] = inst
        return inst

    def suspend_installation(
        self, installation_id: int, suspended: bool = True
    ) -> None:
        inst = self._installations[installation_id]
        inst.suspended_at = _now() if suspended else None

    def remove_installation(self, installation_id: int) -> None:
        inst = self._installations.pop(installation_id)
        for name in inst.repos:
            self._repos.pop(name, None)

    def add_repo(
        self,
        installation_id: int,
        full_name: str,
        files: dict[str, str | bytes],
        default_branch: str = "main",
        private: bool = False,
    ) -> Repo:
        owner_login, name = full_name.split("/")
        inst = self._installations[installation_id]
        owner = self._user(owner_login, inst.account.type)
        repo = Repo(
            id=next(self._ids),
            owner=owner,
            name=name,
            installation_id=installation_id,
            private=private,
            default_branch=default_branch,
            created_at=_now() - timedelta(days=7),
        )
        self._repos[full_name] = repo
        inst.repos.append(full_name)
        flat = {p: ("100644", self._blob(repo, _as_bytes(c))) for p, c in files.items()}
        tree = self._write_tree(repo, flat)
        sha = self._commit(repo, tree, [], "Initial commit", owner_login)
        repo.refs[f"refs/heads/{default_branch}"] = sha
        self._permissions.setdefault((full_name, owner_login), "admin")
        return repo

    def set_permission(self, full_name: str, login: str, permission: str) -> None:
        if permission not in ("admin", "write", "read", "none"):
            raise ValueError(f"unknown permission {permission!r}")
        self._user(login)
        self._permissions[(full_name, login)] = permission

    def add_manifest_code(self, code: str) -> None:
        self._manifest_codes.add(code)

    def push_commit(
        self,
        full_name: str,
        branch: str,
        files_changed: dict[str, str | bytes | None],
        author_login: str = "octocat",
        message: str = "Update files",
    ) -> str:
        """Simulate a human push; ``None`` deletes a file. Returns the commit sha."""
        repo = self._repos[full_name]
        self._user(author_login)
        ref = f"refs/heads/{branch}"
        parent = repo.refs.get(ref) or repo.refs[f"refs/heads/{repo.default_branch}"]
        flat = self._flatten(repo, repo.commits[parent]["tree"])
        for path, content in files_changed.items():
            if content is None:
                flat.pop(path, None)
            else:
                flat[path] = ("100644", self._blob(repo, _as_bytes(content)))
        tree = self._write_tree(repo, flat)
        sha = self._commit(repo, tree, [parent], message, author_login)
        repo.refs[ref] = sha
        return sha

    def add_comment(self, full_name: str, number: int, login: str, body: str) -> Json:
        """A human's issue/PR conversation comment; returns the API object."""
        repo = self._repos[full_name]
        comment = self._new_issue_comment(repo, repo.issues[number], login, body)
        return self._issue_comment_json(comment)

    def add_review_comment(
        self,
        full_name: str,
        number: int,
        login: str,
        body: str,
        path: str,
        line: int = 1,
        in_reply_to: int | None = None,
    ) -> Json:
        """A human's inline review comment on a pull request."""
        repo = self._repos[full_name]
        issue = repo.issues[number]
        review = self.add_review(full_name, number, login, "COMMENTED", "")
        comment = self._new_review_comment(
            repo, issue, login, body, path, line, in_reply_to, review["id"]
        )
        return self._review_comment_json(comment)

    def add_review(
        self, full_name: str, number: int, login: str, state: str, body: str = ""
    ) -> Json:
        """A submitted review (``APPROVED``, ``CHANGES_REQUESTED``, ``COMMENTED``)."""
        repo = self._repos[full_name]
        issue = repo.issues[number]
        user = self._user(login)
        rid = next(self._ids)
        review = {
            "id": rid,
            "node_id": _node_id("PRR", rid),
            "user": self.build.simple_user(user),
            "body": body,
            "state": state,
            "html_url": f"{WEB_HOST}/{full_name}/pull/{number}#pullrequestreview-{rid}",
            "pull_request_url": f"{self.url}/repos/{full_name}/pulls/{number}",
            "_links": {
                "html": {"href": f"{WEB_HOST}/{full_name}/pull/{number}"},
                "pull_request": {
                    "href": f"{self.url}/repos/{full_name}/pulls/{number}"
                },
            },
            "submitted_at": iso(_now()),
            "commit_id": self._pull_head_sha(repo, issue),
            "author_association": self._association(repo, login),
            "_number": number,
            "_repo": full_name,
        }
        self._reviews[rid] = review
        return {k: v for k, v in review.items() if not k.startswith("_")}

    def open_pull(
        self,
        full_name: str,
        head: str,
        base: str,
        *,
        title: str = "Fix",
        body: str | None = None,
        author: str | None = None,
        draft: bool = False,
    ) -> int:
        """Open a pull request directly (bot-authored unless ``author``); its number."""
        repo = self._repos[full_name]
        user = self.user(author) if author else self.bot
        number = max(repo.issues, default=0) + 1
        repo.issues[number] = Issue(
            number=number,
            id=next(self._ids),
            title=title,
            body=body,
            user=user.login,
            created_at=_now(),
            updated_at=_now(),
            is_pull=True,
            pull_id=next(self._ids),
            head=head,
            base=base,
            head_sha=repo.refs[f"refs/heads/{head}"],
            draft=draft,
        )
        return number

    def close_pull(
        self, full_name: str, number: int, *, merged: bool, by: str = "octocat"
    ) -> None:
        """Close or merge a pull request as a human would (merge = fast commit)."""
        repo = self._repos[full_name]
        issue = repo.issues[number]
        issue.state = "closed"
        issue.closed_at = issue.updated_at = _now()
        if merged:
            head = self._pull_head_sha(repo, issue)
            base_ref = f"refs/heads/{issue.base}"
            tree = repo.commits[head]["tree"]
            sha = self._commit(
                repo, tree, [repo.refs[base_ref], head], f"Merge #{number}", by
            )
            repo.refs[base_ref] = sha
            issue.merged_at = _now()
            issue.merged_by = self._user(by).login
            issue.merge_commit_sha = sha

    def reopen_pull(self, full_name: str, number: int) -> None:
        """Reopen a closed, unmerged pull request as a human would."""
        issue = self._repos[full_name].issues[number]
        if issue.merged_at is not None:
            raise ValueError("a merged pull request cannot be reopened")
        issue.state = "open"
        issue.closed_at = None
        issue.updated_at = _now()

    # ----- reading (assertions)

    def repo(self, full_name: str) -> Repo:
        return self._repos[full_name]

    def user(self, login: str) -> User:
        """The user with ``login`` (created on first use, like a GitHub account)."""
        return self._user(login, "Bot" if login.endswith("[bot]") else "User")

    def installation(self, installation_id: int) -> Installation:
        return self._installations[installation_id]

    def installation_json(self, installation_id: int) -> Json:
        """The ``installation`` object the API would return."""
        return self._installation_json(self._installations[installation_id])

    def pull(self, full_name: str, number: int) -> Json:
        """The ``pull-request`` object the API would return."""
        repo = self._repos[full_name]
        return self._pull_json(repo, repo.issues[number])

    def issue_json(self, full_name: str, number: int) -> Json:
        """The ``issue`` object the API would return (pull requests too)."""
        repo = self._repos[full_name]
        return self._issue_json(repo, repo.issues[number])

    def review(self, review_id: int) -> Json:
        review = self._reviews[review_id]
        return {k: v for k, v in review.items() if not k.startswith("_")}

    def commits_between(self, full_name: str, before: str, after: str) -> list[str]:
        """Commits reachable from ``after`` but not ``before``, oldest first."""
        return self._ahead(self._repos[full_name], before, after)

    def push_commit_json(self, full_name: str, sha: str) -> Json:
        """A commit as listed in a ``push`` webhook."""
        repo = self._repos[full_name]
        c = repo.commits[sha]
        before = c["parents"][0] if c["parents"] else None
        old = self._flatten(repo, repo.commits[before]["tree"]) if before else {}
        new = self._flatten(repo, c["tree"])

        def person(who: Json) -> Json:
            return {"name": who["name"], "email": who["email"], "username": c["login"]}

        return {
            "id": sha,
            "tree_id": c["tree"],
            "distinct": True,
            "message": c["message"],
            "timestamp": c["author"]["date"],
            "url": f"{WEB_HOST}/{full_name}/commit/{sha}",
            "author": person(c["author"]),
            "committer": person(c["committer"]),
            "added": sorted(set(new) - set(old)),
            "removed": sorted(set(old) - set(new)),
            "modified": sorted(p for p in set(old) & set(new) if old[p] != new[p]),
        }

    def file(self, full_name: str, ref: str, path: str) -> str | None:
        repo = self._repos[full_name]
        sha = self._resolve_commit(repo, ref)
        if sha is None:
            return None
        entry = self._flatten(repo, repo.commits[sha]["tree"]).get(path)
        return repo.blobs[entry[1]].decode() if entry else None

    def branch_sha(self, full_name: str, branch: str) -> str | None:
        return self._repos[full_name].refs.get(f"refs/heads/{branch}")

    def pulls(self, full_name: str) -> list[Json]:
        repo = self._repos[full_name]
        return [self._pull_json(repo, i) for i in repo.issues.values() if i.is_pull]

    def issues(self, full_name: str) -> list[Json]:
        repo = self._repos[full_name]
        return [
            self._issue_json(repo, i) for i in repo.issues.values() if not i.is_pull
        ]

    def comments(self, full_name: str, number: int) -> list[Json]:
        return [
            self._issue_comment_json(c)
            for c in self._issue_comments.values()
            if c["_repo"] == full_name and c["_number"] == number
        ]

    def review_comments(self, full_name: str, number: int) -> list[Json]:
        return [
            self._review_comment_json(c)
            for c in self._review_comments.values()
            if c["_repo"] == full_name and c["_number"] == number
        ]

    @property
    def reactions(self) -> list[Json]:
        """Each reaction with ``subject`` (issue_comment/review_comment) and id."""
        return [dict(r) for r in self._reactions]

    def check_runs(self, full_name: str) -> list[Json]:
        return [
            self._check_run_json(c)
            for c in self._check_runs.values()
            if c["_repo"] == full_name
        ]

    def expire_tokens(self, installation_id: int | None = None) -> None:
        """Make issued installation tokens expired, as an hour passing would."""
        past = datetime.now(UTC) - timedelta(seconds=1)
        for token, (inst, _) in list(self._tokens.items()):
            if installation_id in (None, inst):
                self._tokens[token] = (inst, past)

    def tokens_for(self, installation_id: int) -> list[str]:
        return [t for t, (i, _) in self._tokens.items() if i == installation_id]

    # ----- git object store

    def _blob(self, repo: Repo, content: bytes) -> str:
        sha = _git_hash("blob", content)
        repo.blobs[sha] = content
        return sha

    def _write_tree(self, repo: Repo, flat: dict[str, tuple[str, str]]) -> str:
        """Store nested trees for ``path -> (mode, blob sha)``; return the root sha."""
        here: list[Json] = []
        subdirs: dict[str, dict[str, tuple[str, str]]] = {}
        for path, (mode, sha) in flat.items():
            head, _, rest = path.partition("/")
            if rest:
                subdirs.setdefault(head, {})[rest] = (mode, sha)
            else:
                here.append({"path": head, "mode": mode, "type": "blob", "sha": sha})
        for name, sub in subdirs.items():
            sha = self._write_tree(repo, sub)
            here.append({"path": name, "mode": "040000", "type": "tree", "sha": sha})
        here.sort(key=lambda e: e["path"])
        sha = _git_hash("tree", json.dumps(here, sort_keys=True).encode())
        repo.trees[sha] = here
        return sha

    def _flatten(self, repo: Repo, tree_sha: str) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for entry in repo.trees[tree_sha]:
            if entry["type"] == "tree":
                for sub, val in self._flatten(repo, entry["sha"]).items():
                    out[f"{entry['path']}/{sub}"] = val
            else:
                out[entry["path"]] = (entry["mode"], entry["sha"])
        return out

    def _subtree(self, repo: Repo, tree_sha: str, path: str) -> str:
        """The sha of the directory ``path`` inside the tree ``tree_sha``."""
        for name in path.split("/"):
            tree_sha = next(
                e["sha"]
                for e in repo.trees[tree_sha]
                if e["path"] == name and e["type"] == "tree"
            )
        return tree_sha

    def _commit(
        self,
        repo: Repo,
        tree: str,
        parents: list[str],
        message: str,
        login: str,
        author: Json | None = None,
        committer: Json | None = None,
    ) -> str:
        stamp = iso(_now())
        who = {
            "name": login,
            "email": f"{login}@users.noreply.github.com",
            "date": stamp,
        }
        author = {**who, **(author or {})}
        committer = {**author, **(committer or {})}
        record = {
            "tree": tree,
            "parents": list(parents),
            "message": message,
            "author": author,
            "committer": committer,
            "login": login,
        }
        # A counter keeps otherwise identical commits distinct, like timestamps do.
        payload = json.dumps({**record, "n": next(self._ids)}, sort_keys=True)
        sha = _git_hash("commit", payload.encode())
        repo.commits[sha] = record
        return sha

    def _ancestors(self, repo: Repo, sha: str) -> list[str]:
        """``sha`` and everything reachable from it, nearest first."""
        seen: dict[str, None] = {}
        todo = [sha]
        while todo:
            cur = todo.pop(0)
            if cur in seen or cur not in repo.commits:
                continue
            seen[cur] = None
            todo.extend(repo.commits[cur]["parents"])
        return list(seen)

    def _merge_base(self, repo: Repo, a: str, b: str) -> str | None:
        ours = set(self._ancestors(repo, a))
        return next((c for c in self._ancestors(repo, b) if c in ours), None)

    def _resolve_commit(self, repo: Repo, ref: str | None) -> str | None:
        ref = ref or repo.default_branch
        for candidate in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/{ref}"):
            if candidate in repo.refs:
                return repo.refs[candidate]
        if ref in repo.commits:
            return ref
        matches = [s for s in repo.commits if len(ref) >= 7 and s.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    # ----- helpers for handlers

    def _association(self, repo: Repo, login: str) -> str:
        if login == repo.owner.login:
            return "OWNER"
        perm = self._permissions.get((repo.full_name, login), "none")
        return "COLLABORATOR" if perm in ("admin", "write") else "NONE"

    def _pull_head_sha(self, repo: Repo, issue: Issue) -> str:
        # The head sha follows the branch until the branch is deleted.
        return repo.refs.get(f"refs/heads/{issue.head}", issue.head_sha)

    def _issue_json(self, repo: Repo, issue: Issue) -> Json:
        """``issue``."""
        u = f"{self.url}/repos/{repo.full_name}/issues/{issue.number}"
        comments = sum(
            1
            for c in self._issue_comments.values()
            if c["_repo"] == repo.full_name and c["_number"] == issue.number
        )
        out: Json = {
            "id": issue.id,
            "node_id": _node_id("I", issue.id),
            "url": u,
            "repository_url": f"{self.url}/repos/{repo.full_name}",
            "labels_url": f"{u}/labels{{/name}}",
            "comments_url": f"{u}/comments",
            "events_url": f"{u}/events",
            "html_url": f"{WEB_HOST}/{repo.full_name}/"
            f"{'pull' if issue.is_pull else 'issues'}/{issue.number}",
            "number": issue.number,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "title": issue.title,
            "body": issue.body,
            "user": self.build.simple_user(self._users[issue.user]),
            "labels": [self.build.label(repo, name) for name in issue.labels],
            "assignee": (
                self.build.simple_user(self._users[issue.assignees[0]])
                if issue.assignees
                else None
            ),
            "assignees": [
                self.build.simple_user(self._users[a]) for a in issue.assignees
            ],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": comments,
            "closed_at": iso(issue.closed_at) if issue.closed_at else None,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "author_association": self._association(repo, issue.user),
        }
        if issue.is_pull:
            p = f"{WEB_HOST}/{repo.full_name}/pull/{issue.number}"
            out["pull_request"] = {
                "url": f"{self.url}/repos/{repo.full_name}/pulls/{issue.number}",
                "html_url": p,
                "diff_url": f"{p}.diff",
                "patch_url": f"{p}.patch",
                "merged_at": iso(issue.merged_at) if issue.merged_at else None,
            }
        return out

    def _pull_files(self, repo: Repo, issue: Issue) -> list[Json]:
        head = self._pull_head_sha(repo, issue)
        base = repo.refs.get(f"refs/heads/{issue.base}", head)
        merge_base = self._merge_base(repo, base, head) or base
        return self._diff(repo, merge_base, head)

    def _diff(self, repo: Repo, old_commit: str, new_commit: str) -> list[Json]:
        old = self._flatten(repo, repo.commits[old_commit]["tree"])
        new = self._flatten(repo, repo.commits[new_commit]["tree"])
        out = []
        for path in sorted(set(old) | set(new)):
            a = old.get(path, (None, None))[1]
            b = new.get(path, (None, None))[1]
            if a != b:
                out.append(self.build.diff_entry(repo, path, a, b))
        return out

    def _branch_json(self, repo: Repo, branch: str, sha: str) -> Json:
        return {
            "label": f"{repo.owner.login}:{branch}",
            "ref": branch,
            "sha": sha,
            "user": self.build.simple_user(repo.owner),
            "repo": self.build.repository(repo),
        }

    def _pull_json(self, repo: Repo, issue: Issue, *, simple: bool = False) -> Json:
        """``pull-request`` (or ``pull-request-simple`` for lists)."""
        u = f"{self.url}/repos/{repo.full_name}/pulls/{issue.number}"
        iu = f"{self.url}/repos/{repo.full_name}/issues/{issue.number}"
        html = f"{WEB_HOST}/{repo.full_name}/pull/{issue.number}"
        head_sha = self._pull_head_sha(repo, issue)
        base_sha = repo.refs.get(f"refs/heads/{issue.base}", head_sha)
        user = self.build.simple_user(self._users[issue.user])
        out_review_comment = (
            f"{self.url}/repos/{repo.full_name}/pulls/comments{{/number}}"
        )
        out: Json = {
            "url": u,
            "id": issue.pull_id,
            "node_id": _node_id("PR", issue.pull_id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": iu,
            "commits_url": f"{u}/commits",
            "review_comments_url": f"{u}/comments",
            "review_comment_url": out_review_comment,
            "comments_url": f"{iu}/comments",
            "statuses_url": f"{self.url}/repos/{repo.full_name}/statuses/{head_sha}",
            "number": issue.number,
            "state": issue.state,
            "locked": False,
            "title": issue.title,
            "user": user,
            "body": issue.body,
            "labels": [self.build.label(repo, n) for n in issue.labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at) if issue.closed_at else None,
            "merged_at": iso(issue.merged_at) if issue.merged_at else None,
            "merge_commit_sha": issue.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [
                self.build.simple_user(self._users[r])
                for r in issue.requested_reviewers
            ],
            "requested_teams": [],
            "head": self._branch_json(repo, issue.head, head_sha),
            "base": self._branch_json(repo, issue.base, base_sha),
            "_links": {
                "self": {"href": u},
                "html": {"href": html},
                "issue": {"href": iu},
                "comments": {"href": f"{iu}/comments"},
                "review_comments": {"href": f"{u}/comments"},
                "review_comment": {"href": out_review_comment},
                "commits": {"href": f"{u}/commits"},
                "statuses": {
                    "href": f"{self.url}/repos/{repo.full_name}/statuses/{head_sha}"
                },
            },
            "author_association": self._association(repo, issue.user),
            "auto_merge": None,
            "draft": issue.draft,
        }
        if simple:
            return out
        files = self._pull_files(repo, issue)
        ahead = self._ahead(repo, base_sha, head_sha)
        out.update(
            {
                "merged": issue.merged_at is not None,
                "mergeable": None if issue.state == "closed" else True,
                "rebaseable": None if issue.state == "closed" else True,
                "mergeable_state": "unknown" if issue.state == "closed" else "clean",
                "merged_by": (
                    self.build.simple_user(self._users[issue.merged_by])
                    if issue.merged_by
                    else None
                ),
                "comments": len(self.comments(repo.full_name, issue.number)),
                "review_comments": len(
                    self.review_comments(repo.full_name, issue.number)
                ),
                "maintainer_can_modify": issue.maintainer_can_modify,
                "commits": len(ahead),
                "additions": sum(f["additions"] for f in files),
                "deletions": sum(f["deletions"] for f in files),
                "changed_files": len(files),
            }
        )
        return out

    def _ahead(self, repo: Repo, base: str, head: str) -> list[str]:
        """Commits reachable from ``head`` but not ``base``, oldest first."""
        behind = set(self._ancestors(repo, base))
        return [c for c in reversed(self._ancestors(repo, head)) if c not in behind]

    def _new_issue_comment(
        self, repo: Repo, issue: Issue, login: str, body: str
    ) -> Json:
        cid = next(self._ids)
        user = self._user(login, "Bot" if login.endswith("[bot]") else "User")
        comment = {
            "id": cid,
            "body": body,
            "user": user.login,
            "created_at": iso(_now()),
            "updated_at": iso(_now()),
            "_repo": repo.full_name,
            "_number": issue.number,
        }
        self._issue_comments[cid] = comment
        issue.updated_at = _now()
        return comment

    def _reaction_rollup(self, url: str, subject: str, cid: int) -> Json:
        mine = [
            r
            for r in self._reactions
            if r["subject"] == subject and r["comment_id"] == cid
        ]
        rollup: Json = {"url": url, "total_count": len(mine)}
        for content in ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes"):
            rollup[content] = sum(1 for r in mine if r["content"] == content)
        rollup["rocket"] = sum(1 for r in mine if r["content"] == "rocket")
        return rollup

    def _issue_comment_json(self, c: Json) -> Json:
        """``issue-comment``."""
        repo = self._repos[c["_repo"]]
        u = f"{self.url}/repos/{repo.full_name}/issues/comments/{c['id']}"
        issue = repo.issues[c["_number"]]
        kind = "pull" if issue.is_pull else "issues"
        return {
            "id": c["id"],
            "node_id": _node_id("IC", c["id"]),
            "url": u,
            "html_url": f"{WEB_HOST}/{repo.full_name}/{kind}/{issue.number}"
            f"#issuecomment-{c['id']}",
            "body": c["body"],
            "user": self.build.simple_user(self._users[c["user"]]),
            "created_at": c["created_at"],
            "updated_at": c["updated_at"],
            "issue_url": f"{self.url}/repos/{repo.full_name}/issues/{issue.number}",
            "author_association": self._association(repo, c["user"]),
            "reactions": self._reaction_rollup(
                f"{u}/reactions", "issue_comment", c["id"]
            ),
        }

    def _new_review_comment(
        self,
        repo: Repo,
        issue: Issue,
        login: str,
        body: str,
        path: str,
        line: int,
        in_reply_to: int | None,
        review_id: int | None,
    ) -> Json:
        cid = next(self._ids)
        head = self._pull_head_sha(repo, issue)
        comment = {
            "id": cid,
            "body": body,
            "user": self._user(
                login, "Bot" if login.endswith("[bot]") else "User"
            ).login,
            "path": path,
            "line": line,
            "commit_id": head,
            "in_reply_to_id": in_reply_to,
            "review_id": review_id,
            "created_at": iso(_now()),
            "updated_at": iso(_now()),
            "_repo": repo.full_name,
            "_number": issue.number,
        }
        self._review_comments[cid] = comment
        issue.updated_at = _now()
        return comment

    def _review_comment_json(self, c: Json) -> Json:
        """``pull-request-review-comment``."""
        repo = self._repos[c["_repo"]]
        u = f"{self.url}/repos/{repo.full_name}/pulls/comments/{c['id']}"
        pr = f"{self.url}/repos/{repo.full_name}/pulls/{c['_number']}"
        html = f"{WEB_HOST}/{repo.full_name}/pull/{c['_number']}#discussion_r{c['id']}"
        out = {
            "url": u,
            "pull_request_review_id": c["review_id"],
            "id": c["id"],
            "node_id": _node_id("PRRC", c["id"]),
            "diff_hunk": f"@@ -{c['line']},1 +{c['line']},1 @@",
            "path": c["path"],
            "commit_id": c["commit_id"],
            "original_commit_id": c["commit_id"],
            "user": self.build.simple_user(self._users[c["user"]]),
            "body": c["body"],
            "created_at": c["created_at"],
            "updated_at": c["updated_at"],
            "html_url": html,
            "pull_request_url": pr,
            "author_association": self._association(repo, c["user"]),
            "_links": {
                "self": {"href": u},
                "html": {"href": html},
                "pull_request": {"href": pr},
            },
            "line": c["line"],
            "original_line": c["line"],
            "side": "RIGHT",
            "subject_type": "line",
            "reactions": self._reaction_rollup(
                f"{u}/reactions", "pull_request_review_comment", c["id"]
            ),
        }
        if c["in_reply_to_id"]:
            out["in_reply_to_id"] = c["in_reply_to_id"]
        return out

    def _app_json(self) -> Json:
        """``integration``."""
        return {
            "id": self.app_id,
            "slug": self.slug,
            "node_id": _node_id("A", self.app_id),
            "client_id": f"Iv1.{self.app_id:016x}",
            "owner": self.build.simple_user(self.owner),
            "name": self.slug.replace("-", " ").title(),
            "description": "Turns production tracebacks into pull requests.",
            "external_url": f"https://{self.slug}.example.com",
            "html_url": f"{WEB_HOST}/apps/{self.slug}",
            "created_at": iso(self.created_at),
            "updated_at": iso(self.created_at),
            "permissions": {
                "checks": "write",
                "contents": "write",
                "issues": "write",
                "metadata": "read",
                "pull_requests": "write",
            },
            "events": [
                "issue_comment",
                "pull_request",
                "pull_request_review",
                "pull_request_review_comment",
                "push",
            ],
            "installations_count": len(self._installations),
        }

    def _installation_json(self, inst: Installation) -> Json:
        """``installation``."""
        u = f"{self.url}/app/installations/{inst.id}"
        return {
            "id": inst.id,
            "account": self.build.simple_user(inst.account),
            "repository_selection": "selected",
            "access_tokens_url": f"{u}/access_tokens",
            "repositories_url": f"{self.url}/installation/repositories",
            "html_url": (
                f"{WEB_HOST}/organizations/{inst.account.login}/settings/"
                f"installations/{inst.id}"
                if inst.account.type == "Organization"
                else f"{WEB_HOST}/settings/installations/{inst.id}"
            ),
            "app_id": self.app_id,
            "app_slug": self.slug,
            "target_id": inst.account.id,
            "target_type": inst.account.type,
            "permissions": self._app_json()["permissions"],
            "events": self._app_json()["events"],
            "created_at": iso(inst.created_at),
            "updated_at": iso(inst.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": (
                self.build.simple_user(inst.account) if inst.suspended_at else None
            ),
            "suspended_at": iso(inst.suspended_at) if inst.suspended_at else None,
        }

    def _check_run_json(self, c: Json) -> Json:
        """``check-run``."""
        u = f"{self.url}/repos/{c['_repo']}/check-runs/{c['id']}"
        return {
            "id": c["id"],
            "head_sha": c["head_sha"],
            "node_id": _node_id("CR", c["id"]),
            "external_id": c["external_id"],
            "url": u,
            "html_url": f"{WEB_HOST}/{c['_repo']}/runs/{c['id']}",
            "details_url": c["details_url"],
            "status": c["status"],
            "conclusion": c["conclusion"],
            "started_at": c["started_at"],
            "completed_at": c["completed_at"],
            "output": {
                "title": c["output"].get("title"),
                "summary": c["output"].get("summary"),
                "text": c["output"].get("text"),
                "annotations_count": len(c["output"].get("annotations", [])),
                "annotations_url": f"{u}/annotations",
            },
            "name": c["name"],
            "check_suite": {"id": c["suite_id"]},
            "app": self._app_json(),
            "pull_requests": [],
        }

    # ----- HTTP plumbing

    def _routes(self, app: web.Application) -> None:
        r = "/repos/{owner}/{repo}"
        n = "{number:\\d+}"
        cid = "{comment_id:\\d+}"
        table: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", "/app", self._get_app),
            ("GET", "/app/installations", self._list_installations),
            (
                "GET",
                "/app/installations/{installation_id:\\d+}",
                self._get_installation,
            ),
            (
                "POST",
                "/app/installations/{installation_id:\\d+}/access_tokens",
                self._create_token,
            ),
            ("POST", "/app-manifests/{code}/conversions", self._manifest_conversion),
            ("GET", "/installation/repositories", self._installation_repos),
            ("GET", f"{r}/installation", self._repo_installation),
            ("GET", r, self._get_repo),
            ("GET", f"{r}/contents/{{path:.+}}", self._get_contents),
            ("GET", f"{r}/git/ref/{{ref:.+}}", self._get_ref),
            ("GET", f"{r}/git/matching-refs/{{ref:.*}}", self._matching_refs),
            ("POST", f"{r}/git/refs", self._create_ref),
            ("PATCH", f"{r}/git/refs/{{ref:.+}}", self._update_ref),
            ("DELETE", f"{r}/git/refs/{{ref:.+}}", self._delete_ref),
            ("GET", f"{r}/git/commits/{{commit_sha}}", self._get_commit),
            ("POST", f"{r}/git/commits", self._create_commit),
            ("GET", f"{r}/git/trees/{{tree_sha}}", self._get_tree),
            ("POST", f"{r}/git/trees", self._create_tree),
            ("POST", f"{r}/git/blobs", self._create_blob),
            ("GET", f"{r}/git/blobs/{{file_sha}}", self._get_blob),
            ("GET", f"{r}/compare/{{basehead:.+}}", self._compare),
            ("GET", f"{r}/pulls", self._list_pulls),
            ("POST", f"{r}/pulls", self._create_pull),
            ("GET", f"{r}/pulls/{n}", self._get_pull),
            ("PATCH", f"{r}/pulls/{n}", self._update_pull),
            ("GET", f"{r}/pulls/{n}/files", self._pull_files_handler),
            ("GET", f"{r}/pulls/{n}/comments", self._list_review_comments),
            ("POST", f"{r}/pulls/{n}/requested_reviewers", self._request_reviewers),
            ("POST", f"{r}/pulls/{n}/comments/{cid}/replies", self._reply_review),
            ("GET", f"{r}/issues", self._list_issues),
            ("POST", f"{r}/issues", self._create_issue),
            ("GET", f"{r}/issues/{n}", self._get_issue),
            ("PATCH", f"{r}/issues/{n}", self._update_issue),
            ("GET", f"{r}/issues/{n}/comments", self._list_issue_comments),
            ("POST", f"{r}/issues/{n}/comments", self._create_issue_comment),
            ("PATCH", f"{r}/issues/comments/{cid}", self._update_issue_comment),
            ("POST", f"{r}/issues/{n}/labels", self._add_labels),
            ("POST", f"{r}/issues/comments/{cid}/reactions", self._react_issue_comment),
            ("POST", f"{r}/pulls/comments/{cid}/reactions", self._react_review_comment),
            ("GET", f"{r}/collaborators/{{username}}/permission", self._permission),
            ("POST", f"{r}/check-runs", self._create_check_run),
            ("PATCH", f"{r}/check-runs/{{check_run_id:\\d+}}", self._update_check_run),
        ]
        for method, path, handler in table:
            app.router.add_route(method, path, handler)

    def _error_response(self, err: GitHubError) -> web.Response:
        return web.json_response(err.body(), status=err.status)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[..., Any]
    ) -> web.StreamResponse:
        body = await request.read()
        response, checkable = await self._dispatch(request, handler, body)
        self._finish(request, response)
        self.calls.append((request.method, request.path_qs, response.status))
        # GitHub answers any conditional GET with a bodiless 304, documented or not.
        if checkable and self._openapi is not None and response.status != 304:
            self._check_response(request, body, response)
        return response

    async def _dispatch(
        self, request: web.Request, handler: Callable[..., Any], body: bytes
    ) -> tuple[web.Response, bool]:
        """Run the GitHub front door, then the handler; say if the answer is spec'd."""
        route = request.match_info.route
        if route.resource is None:
            self.violations.append(
                f"{request.method} {request.path}: the stand-in has no such endpoint"
            )
            return self._error_response(_not_found()), False
        if not request.headers.get("User-Agent"):
            # GitHub's exact wording for requests without a User-Agent.
            msg = (
                "Request forbidden by administrative rules. "
                "Please make sure your request has a User-Agent header "
                "(https://docs.github.com/en/rest/overview/resources-in-the-rest-api"
                "#user-agent-required). Check https://developer.github.com for other "
                "possible causes."
            )
            return web.Response(status=403, text=msg, content_type="text/plain"), False
        version = request.headers.get("X-GitHub-Api-Version")
        if version != API_VERSION:
            shown = "missing" if version is None else f"'{version}'"
            err = GitHubError(
                400,
                f"API version {shown} is not supported: send "
                f"X-GitHub-Api-Version: {API_VERSION}.",
                doc="https://docs.github.com/rest/about-the-rest-api/api-versions",
            )
            return self._error_response(err), False
        request_errors = self._check_request(request, body)
        try:
            ctx = self._authenticate(request, getattr(handler, "auth_kind", "token"))
        except GitHubError as err:
            return self._error_response(err), False
        if request_errors:
            err = _unprocessable("Invalid request.\n\n" + "\n".join(request_errors))
            return self._error_response(err), False
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return self._error_response(
                GitHubError(400, "Problems parsing JSON")
            ), False
        request[_CTX] = ctx
        request[_PAYLOAD] = payload
        try:
            response = await handler(request)
        except GitHubError as err:
            return self._error_response(err), True
        return response, True

    def _finish(self, request: web.Request, response: web.Response) -> None:
        """ETag/304 and rate-limit headers, as GitHub sends them."""
        ctx: _Ctx | None = request.get(_CTX)
        key = (ctx.token if ctx else None) or "anonymous"
        used = self._rate_used.get(key, 0)
        if response.status != 304:
            used += 1
            self._rate_used[key] = used
        response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        response.headers["X-RateLimit-Remaining"] = str(max(0, RATE_LIMIT - used))
        response.headers["X-RateLimit-Reset"] = str(self._rate_reset)
        response.headers["X-RateLimit-Used"] = str(used)
        response.headers["X-RateLimit-Resource"] = "core"
        response.headers["X-GitHub-Api-Version-Selected"] = API_VERSION
        if request.method == "GET" and response.status == 200 and response.body:
            etag = f'"{hashlib.sha256(bytes(response.body)).hexdigest()[:40]}"'
            response.headers["ETag"] = etag
            wanted = request.headers.get("If-None-Match", "")
            tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
            if etag in tags or "*" in tags:
                response.set_status(304)
                response.body = b""
                # A 304 does not count against the rate limit on GitHub.
                self._rate_used[key] = used - 1
                response.headers["X-RateLimit-Remaining"] = str(RATE_LIMIT - used + 1)
                response.headers["X-RateLimit-Used"] = str(used - 1)

    # ----- contract checks

    def _spec_path(self, request: web.Request) -> str:
        """The request path with every path parameter percent-encoded (``/`` too)."""
        canonical = request.match_info.route.resource.canonical
        params = {k: quote(v, safe="") for k, v in request.match_info.items()}
        return canonical.format(**params) if params else canonical

    def _spec_request(self, request: web.Request, body: bytes) -> _SpecRequest:
        ctype = request.headers.get("Content-Type", "")
        if body and not ctype:
            ctype = "application/json"
        return _SpecRequest(
            request.method,
            self._spec_path(request),
            request.query,
            request.headers,
            body,
            ctype.lower(),
        )

    def _check_request(self, request: web.Request, body: bytes) -> list[str]:
        if self._openapi is None:
            return []
        spec_req = self._spec_request(request, body)
        errors = [_describe(e) for e in self._openapi.iter_request_errors(spec_req)]
        for err in errors:
            self.violations.append(f"{request.method} {request.path_qs} request: {err}")
        return errors

    def _check_response(
        self, request: web.Request, body: bytes, response: web.Response
    ) -> None:
        assert self._openapi is not None
        spec_req = self._spec_request(request, body)
        spec_resp = _SpecResponse(
            response.status, response.headers, bytes(response.body or b"")
        )
        problems = [
            _describe(err)
            for err in self._openapi.iter_response_errors(spec_req, spec_resp)
            # GitHub answers 403/404 on any endpoint, listed in the description or
            # not (e.g. a comment deleted meanwhile); only their shape is checked.
            if not (
                type(err).__name__ == "ResponseNotFound"
                and response.status in (403, 404)
            )
        ]
        schema = _response_schema(
            request.match_info.route.resource.canonical,
            request.method,
            response.status,
        )
        if schema is not None and response.body:
            document = contracts.github_openapi_document()
            data = json.loads(bytes(response.body))
            problems += unknown_keys(document, schema, data)
        for problem in problems:
            self.violations.append(
                f"{request.method} {request.path_qs} response {response.status}: "
                f"{problem}"
            )

    def check_response(
        self, method: str, path: str, status: int, body: Any, query: str = ""
    ) -> list[str]:
        """Validate an arbitrary answer against the spec (for testing the checker)."""
        if self._openapi is None:
            return []
        from multidict import CIMultiDict, MultiDict

        spec_req = _SpecRequest(
            method, path, MultiDict(_parse_qs(query)), CIMultiDict(), b"", ""
        )
        data = json.dumps(body).encode()
        spec_resp = _SpecResponse(
            status, CIMultiDict({"Content-Type": "application/json"}), data
        )
        return [
            _describe(e)
            for e in self._openapi.iter_response_errors(spec_req, spec_resp)
        ]

    # ----- auth

    def _authenticate(self, request: web.Request, kind: str) -> _Ctx:
        if kind == "none":
            return _Ctx()
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if not header:
            raise GitHubError(
                401,
                "Requires authentication",
                doc="https://docs.github.com/rest/overview/authenticating-to-the-rest-api",
            )
        if kind == "jwt":
            if scheme.lower() != "bearer":
                raise GitHubError(
                    401,
                    "A JSON web token could not be decoded",
                    doc="https://docs.github.com/rest",
                )
            self._verify_jwt(credential)
            return _Ctx()
        if scheme.lower() not in ("token", "bearer"):
            raise GitHubError(401, "Bad credentials")
        entry = self._tokens.get(credential)
        if entry is None or entry[1] <= datetime.now(UTC):
            raise GitHubError(401, "Bad credentials")
        installation_id = entry[0]
        if installation_id not in self._installations:
            raise GitHubError(401, "Bad credentials")
        owner = request.match_info.get("owner")
        if owner is not None:
            full_name = f"{owner}/{request.match_info['repo']}"
            repo = self._repos.get(full_name)
            if repo is None or repo.installation_id != installation_id:
                # GitHub hides repositories the installation cannot see.
                raise _not_found()
        return _Ctx(installation_id=installation_id, token=credential)

    def _verify_jwt(self, token: str) -> None:
        try:
            claims = jwt.decode(
                token,
                self.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"], "verify_iat": False},
                leeway=60,
            )
        except jwt.ExpiredSignatureError as exc:
            raise GitHubError(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing "
                "the future time at which the assertion expires",
            ) from exc
        except jwt.PyJWTError as exc:
            raise GitHubError(
                401, f"A JSON web token could not be decoded ({exc})"
            ) from exc
        if str(claims["iss"]) != str(self.app_id):
            raise GitHubError(401, "'Issuer' claim ('iss') must be the app's id")
        if int(claims["exp"]) - int(claims["iat"]) > 600:
            raise GitHubError(
                401, "'Expiration time' claim ('exp') is too far in the future"
            )
        if int(claims["iat"]) > time.time() + 60:
            raise GitHubError(
                401,
                "'Issued at' claim ('iat') must be an Integer representing the "
                "time that the assertion was issued",
            )

    # ----- lookups used by handlers

    def _repo_of(self, request: web.Request) -> Repo:
        repo = self._repos.get(
            f"{request.match_info['owner']}/{request.match_info['repo']}"
        )
        if repo is None:
            raise _not_found()
        return repo

    def _issue_of(self, request: web.Request, *, pull: bool | None = None) -> Issue:
        repo = self._repo_of(request)
        issue = repo.issues.get(int(request.match_info["number"]))
        if issue is None or (pull is not None and issue.is_pull != pull):
            raise _not_found()
        return issue

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        return web.json_response(data, status=status)

    def _page(self, request: web.Request, items: list[Any]) -> web.Response:
        """One page of ``items`` with a GitHub-style ``Link`` header."""
        per_page = min(int(request.query.get("per_page", "30")), 100)
        page = max(int(request.query.get("page", "1")), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        response = self._json(chunk)
        last = max(1, -(-len(items) // per_page))
        if last > 1:
            links = []
            base = f"{self.url}{request.path}"
            other = [(k, v) for k, v in request.query.items() if k != "page"]
            query = "&".join(f"{k}={quote(v)}" for k, v in other)
            sep = f"{query}&" if query else ""
            if page < last:
                links.append(f'<{base}?{sep}page={page + 1}>; rel="next"')
                links.append(f'<{base}?{sep}page={last}>; rel="last"')
            if page > 1:
                links.append(f'<{base}?{sep}page=1>; rel="first"')
                links.append(f'<{base}?{sep}page={page - 1}>; rel="prev"')
            response.headers["Link"] = ", ".join(links)
        return response

    # ----- handlers: app

    @_auth("jwt")
    async def _get_app(self, request: web.Request) -> web.Response:
        return self._json(self._app_json())

    @_auth("jwt")
    async def _list_installations(self, request: web.Request) -> web.Response:
        items = [self._installation_json(i) for i in self._installations.values()]
        return self._page(request, items)

    @_auth("jwt")
    async def _get_installation(self, request: web.Request) -> web.Response:
        inst = self._installations.get(int(request.match_info["installation_id"]))
        if inst is None:
            raise _not_found()
        return self._json(self._installation_json(inst))

    @_auth("jwt")
    async def _repo_installation(self, request: web.Request) -> web.Response:
        repo = self._repos.get(
            f"{request.match_info['owner']}/{request.match_info['repo']}"
        )
        if repo is None:
            raise _not_found()
        return self._json(
            self._installation_json(self._installations[repo.installation_id])
        )

    @_auth("jwt")
    async def _create_token(self, request: web.Request) -> web.Response:
        inst = self._installations.get(int(request.match_info["installation_id"]))
        if inst is None:
            raise _not_found()
        if inst.suspended_at is not None:
            raise GitHubError(403, "This installation has been suspended")
        token = "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")
        expires = _now() + timedelta(hours=1)
        self._tokens[token] = (inst.id, expires)
        return self._json(
            {
                "token": token,
                "expires_at": iso(expires),
                "permissions": self._app_json()["permissions"],
                "repository_selection": "selected",
            },
            201,
        )

    @_auth("none")
    async def _manifest_conversion(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        if code not in self._manifest_codes:
            raise _not_found()
        self._manifest_codes.discard(code)
        out = self._app_json()
        out.update(
            {
                "client_id": f"Iv1.{self.app_id:016x}",
                "client_secret": secrets.token_hex(20),
                "webhook_secret": secrets.token_hex(20),
                "pem": "-----BEGIN RSA PRIVATE KEY-----\n"
                "(the stand-in does not hand out real keys)\n"
                "-----END RSA PRIVATE KEY-----\n",
            }
        )
        return self._json(out, 201)

    # ----- handlers: installation

    @_auth("token")
    async def _installation_repos(self, request: web.Request) -> web.Response:
        inst = self._installations[request[_CTX].installation_id]
        repos = [self.build.repository(self._repos[n]) for n in inst.repos]
        per_page = min(int(request.query.get("per_page", "30")), 100)
        page = max(int(request.query.get("page", "1")), 1)
        chunk = repos[(page - 1) * per_page : page * per_page]
        return self._json(
            {
                "total_count": len(repos),
                "repositories": chunk,
                "repository_selection": "selected",
            }
        )

    @_auth("token")
    async def _get_repo(self, request: web.Request) -> web.Response:
        return self._json(self.build.repository(self._repo_of(request), full=True))

    @_auth("token")
    async def _permission(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        login = request.match_info["username"]
        user = self._users.get(login)
        if user is None:
            raise _not_found()
        perm = self._permissions.get((repo.full_name, login))
        if perm is None:
            perm = "none" if repo.private else "read"
        role = {"admin": "admin", "write": "write", "read": "read"}.get(perm, "none")
        collaborator = self.build.simple_user(user)
        collaborator["permissions"] = {
            "pull": perm in ("admin", "write", "read"),
            "triage": perm in ("admin", "write"),
            "push": perm in ("admin", "write"),
            "maintain": perm == "admin",
            "admin": perm == "admin",
        }
        collaborator["role_name"] = role
        return self._json({"permission": perm, "role_name": role, "user": collaborator})

    # ----- handlers: contents and git data

    @_auth("token")
    async def _get_contents(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        path = request.match_info["path"].strip("/")
        ref = request.query.get("ref")
        sha = self._resolve_commit(repo, ref)
        if sha is None:
            raise GitHubError(404, f"No commit found for the ref {ref}")
        flat = self._flatten(repo, repo.commits[sha]["tree"])
        base = f"{self.url}/repos/{repo.full_name}/contents"
        ref_name = ref or repo.default_branch

        def entry(p: str, kind: str, obj_sha: str, size: int) -> Json:
            html = f"{WEB_HOST}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}"
            git = f"{self.url}/repos/{repo.full_name}/git/"
            git += f"{'blobs' if kind == 'file' else 'trees'}/{obj_sha}"
            raw = f"https://raw.githubusercontent.com/{repo.full_name}/{ref_name}/{p}"
            return {
                "type": kind,
                "size": size,
                "name": p.rsplit("/", 1)[-1],
                "path": p,
                "sha": obj_sha,
                "url": f"{base}/{p}?ref={ref_name}",
                "git_url": git,
                "html_url": f"{html}/{ref_name}/{p}",
                "download_url": raw if kind == "file" else None,
                "_links": {
                    "self": f"{base}/{p}?ref={ref_name}",
                    "git": git,
                    "html": f"{html}/{ref_name}/{p}",
                },
            }

        if path in flat:
            blob_sha = flat[path][1]
            content = repo.blobs[blob_sha]
            out = entry(path, "file", blob_sha, len(content))
            out["encoding"] = "base64"
            # GitHub wraps base64 at 60 columns with newlines.
            enc = base64.b64encode(content).decode()
            out["content"] = "\n".join(enc[i : i + 60] for i in range(0, len(enc), 60))
            out["content"] += "\n" if enc else ""
            return self._json(out)
        prefix = f"{path}/"
        below = [p for p in flat if p.startswith(prefix)]
        if not below:
            raise _not_found()
        listing: dict[str, Json] = {}
        for p in sorted(below):
            name = p[len(prefix) :].split("/", 1)[0]
            child = prefix + name
            if child in flat:
                blob_sha = flat[child][1]
                listing[child] = entry(
                    child, "file", blob_sha, len(repo.blobs[blob_sha])
                )
            elif child not in listing:
                tree_sha = self._subtree(repo, repo.commits[sha]["tree"], child)
                listing[child] = entry(child, "dir", tree_sha, 0)
        return self._json(list(listing.values()))

    def _ref_name(self, request: web.Request) -> str:
        ref = request.match_info["ref"].strip("/")
        return ref if ref.startswith("refs/") else f"refs/{ref}"

    @_auth("token")
    async def _get_ref(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        ref = self._ref_name(request)
        if ref not in repo.refs:
            raise _not_found()
        return self._json(self.build.git_ref(repo, ref))

    @_auth("token")
    async def _matching_refs(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        prefix = self._ref_name(request) if request.match_info["ref"] else "refs/"
        refs = sorted(r for r in repo.refs if r.startswith(prefix))
        return self._json([self.build.git_ref(repo, r) for r in refs])

    @_auth("token")
    async def _create_ref(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        data = request[_PAYLOAD]
        ref, sha = data["ref"], data["sha"]
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise _unprocessable(f"'{ref}' is not a valid ref name.")
        if sha not in repo.commits:
            raise _unprocessable("Object does not exist")
        if ref in repo.refs:
            raise _unprocessable("Reference already exists")
        repo.refs[ref] = sha
        return self._json(self.build.git_ref(repo, ref), 201)

    @_auth("token")
    async def _update_ref(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        ref = self._ref_name(request)
        data = request[_PAYLOAD]
        sha = data["sha"]
        if ref not in repo.refs:
            raise _unprocessable("Reference does not exist")
        if sha not in repo.commits:
            raise _unprocessable("Object does not exist")
        current = repo.refs[ref]
        fast_forward = current in self._ancestors(repo, sha)
        if not fast_forward and not data.get("force", False):
            raise _unprocessable("Update is not a fast forward")
        repo.refs[ref] = sha
        return self._json(self.build.git_ref(repo, ref))

    @_auth("token")
    async def _delete_ref(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        ref = self._ref_name(request)
        if ref not in repo.refs:
            raise _unprocessable("Reference does not exist")
        del repo.refs[ref]
        return web.Response(status=204)

    @_auth("token")
    async def _get_commit(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        sha = request.match_info["commit_sha"]
        if sha not in repo.commits:
            raise _not_found()
        return self._json(self.build.git_commit(repo, sha))

    @_auth("token")
    async def _create_commit(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        data = request[_PAYLOAD]
        if data["tree"] not in repo.trees:
            raise _unprocessable("Tree SHA does not exist")
        parents = data.get("parents", [])
        for p in parents:
            if p not in repo.commits:
                raise _unprocessable(
                    "Parent SHA does not exist or is not a commit object"
                )
        sha = self._commit(
            repo,
            data["tree"],
            parents,
            data["message"],
            self.bot.login,
            author=data.get("author"),
            committer=data.get("committer"),
        )
        return self._json(self.build.git_commit(repo, sha), 201)

    @_auth("token")
    async def _get_tree(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        sha = request.match_info["tree_sha"]
        if sha not in repo.trees:
            commit = self._resolve_commit(repo, sha)
            if commit is None:
                raise _not_found()
            sha = repo.commits[commit]["tree"]
        recursive = request.query.get("recursive") not in (None, "", "0", "false")
        return self._json(
            {
                "sha": sha,
                "url": f"{self.url}/repos/{repo.full_name}/git/trees/{sha}",
                "tree": self._tree_entries(repo, sha, "", recursive),
                "truncated": False,
            }
        )

    def _tree_entries(
        self, repo: Repo, sha: str, prefix: str, recursive: bool
    ) -> list[Json]:
        out = []
        for e in repo.trees[sha]:
            kind = "trees" if e["type"] == "tree" else "blobs"
            item = {
                "path": prefix + e["path"],
                "mode": e["mode"],
                "type": e["type"],
                "sha": e["sha"],
                "url": f"{self.url}/repos/{repo.full_name}/git/{kind}/{e['sha']}",
            }
            if e["type"] == "blob":
                item["size"] = len(repo.blobs[e["sha"]])
            out.append(item)
            if recursive and e["type"] == "tree":
                out.extend(
                    self._tree_entries(repo, e["sha"], f"{prefix}{e['path']}/", True)
                )
        return out

    @_auth("token")
    async def _create_tree(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        data = request[_PAYLOAD]
        flat: dict[str, tuple[str, str]] = {}
        if data.get("base_tree"):
            if data["base_tree"] not in repo.trees:
                raise _unprocessable("base_tree is not a valid tree oid")
            flat = self._flatten(repo, data["base_tree"])
        for item in data["tree"]:
            path = item.get("path", "")
            if not path or path.startswith("/") or path.endswith("/") or "//" in path:
                raise _unprocessable("tree.path contains a malformed path component")
            if "content" in item and item.get("sha") is not None:
                raise _unprocessable(
                    "Only one of tree.sha or tree.content may be provided"
                )
            under = f"{path}/"
            if "sha" in item and item["sha"] is None:
                for p in [p for p in flat if p == path or p.startswith(under)]:
                    del flat[p]
                continue
            if "content" in item:
                blob = self._blob(repo, item["content"].encode())
                flat[path] = (item.get("mode", "100644"), blob)
            elif item.get("type") == "tree":
                if item["sha"] not in repo.trees:
                    raise _unprocessable("tree.sha is not a valid tree")
                for p in [p for p in flat if p == path or p.startswith(under)]:
                    del flat[p]
                for sub, val in self._flatten(repo, item["sha"]).items():
                    flat[f"{under}{sub}"] = val
            else:
                if item.get("sha") not in repo.blobs:
                    raise _unprocessable(
                        f"tree.sha {item.get('sha')} is not a valid blob"
                    )
                flat[path] = (item.get("mode", "100644"), item["sha"])
        sha = self._write_tree(repo, flat)
        return self._json(
            {
                "sha": sha,
                "url": f"{self.url}/repos/{repo.full_name}/git/trees/{sha}",
                "tree": self._tree_entries(repo, sha, "", False),
                "truncated": False,
            },
            201,
        )

    @_auth("token")
    async def _create_blob(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        data = request[_PAYLOAD]
        encoding = data.get("encoding", "utf-8")
        if encoding == "base64":
            try:
                content = base64.b64decode(data["content"], validate=False)
            except ValueError as exc:
                raise _unprocessable("content is not valid Base64") from exc
        elif encoding in ("utf-8", "utf8"):
            content = data["content"].encode()
        else:
            raise _unprocessable(f"encoding {encoding!r} is not supported")
        sha = self._blob(repo, content)
        return self._json(
            {"sha": sha, "url": f"{self.url}/repos/{repo.full_name}/git/blobs/{sha}"},
            201,
        )

    @_auth("token")
    async def _get_blob(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        sha = request.match_info["file_sha"]
        if sha not in repo.blobs:
            raise _not_found()
        content = repo.blobs[sha]
        return self._json(
            {
                "sha": sha,
                "node_id": _node_id("B", sha[:12]),
                "size": len(content),
                "url": f"{self.url}/repos/{repo.full_name}/git/blobs/{sha}",
                "content": base64.b64encode(content).decode() + "\n",
                "encoding": "base64",
            }
        )

    @_auth("token")
    async def _compare(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        basehead = request.match_info["basehead"]
        if "..." not in basehead:
            raise _not_found()
        base_name, head_name = basehead.split("...", 1)
        base = self._resolve_commit(repo, base_name)
        head = self._resolve_commit(repo, head_name)
        if base is None or head is None:
            raise _not_found()
        merge_base = self._merge_base(repo, base, head)
        if merge_base is None:
            raise _not_found()
        ahead = self._ahead(repo, base, head)
        behind = self._ahead(repo, head, base)
        status = (
            "identical"
            if not ahead and not behind
            else "ahead"
            if not behind
            else "behind"
            if not ahead
            else "diverged"
        )
        html = f"{WEB_HOST}/{repo.full_name}/compare/{basehead}"
        users = self._users
        return self._json(
            {
                "url": f"{self.url}/repos/{repo.full_name}/compare/{basehead}",
                "html_url": html,
                "permalink_url": f"{WEB_HOST}/{repo.full_name}/compare/"
                f"{repo.owner.login}:{base[:7]}...{repo.owner.login}:{head[:7]}",
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "base_commit": self.build.commit(repo, base, users),
                "merge_base_commit": self.build.commit(repo, merge_base, users),
                "status": status,
                "ahead_by": len(ahead),
                "behind_by": len(behind),
                "total_commits": len(ahead),
                "commits": [self.build.commit(repo, c, users) for c in ahead],
                "files": self._diff(repo, merge_base, head),
            }
        )

    # ----- handlers: pulls

    @_auth("token")
    async def _list_pulls(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        state = request.query.get("state", "open")
        head = request.query.get("head")
        base = request.query.get("base")
        out = []
        for issue in sorted(repo.issues.values(), key=lambda i: -i.number):
            if not issue.is_pull or (state != "all" and issue.state != state):
                continue
            if head is not None:
                owner, _, branch = head.partition(":")
                if not branch:
                    # GitHub ignores a head filter without the owner prefix.
                    owner, branch = repo.owner.login, None
                if owner != repo.owner.login or (branch and branch != issue.head):
                    continue
            if base is not None and issue.base != base:
                continue
            out.append(self._pull_json(repo, issue, simple=True))
        return self._page(request, out)

    @_auth("token")
    async def _create_pull(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        data = request[_PAYLOAD]
        head = data["head"]
        if ":" in head:
            owner, _, head = head.partition(":")
            if owner != repo.owner.login:
                raise _unprocessable(
                    "Validation Failed",
                    [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
                )
        base = data["base"]
        if f"refs/heads/{base}" not in repo.refs:
            raise _unprocessable(
                "Validation Failed",
                [{"resource": "PullRequest", "field": "base", "code": "invalid"}],
            )
        if f"refs/heads/{head}" not in repo.refs:
            raise _unprocessable(
                "Validation Failed",
                [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
            )
        for other in repo.issues.values():
            if (
                other.is_pull
                and other.state == "open"
                and other.head == head
                and other.base == base
            ):
                raise _unprocessable(
                    "Validation Failed",
                    [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": "A pull request already exists for "
                            f"{repo.owner.login}:{head}.",
                        }
                    ],
                )
        head_sha = repo.refs[f"refs/heads/{head}"]
        if not self._ahead(repo, repo.refs[f"refs/heads/{base}"], head_sha):
            raise _unprocessable(
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between {base} and {head}",
                    }
                ],
            )
        if "title" not in data and "issue" not in data:
            raise _unprocessable(
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "field": "title",
                        "code": "missing_field",
                    }
                ],
            )
        number = max(repo.issues, default=0) + 1
        issue = Issue(
            number=number,
            id=next(self._ids),
            title=data.get("title", ""),
            body=data.get("body"),
            user=self.bot.login,
            created_at=_now(),
            updated_at=_now(),
            is_pull=True,
            pull_id=next(self._ids),
            head=head,
            base=base,
            head_sha=head_sha,
            draft=bool(data.get("draft", False)),
            maintainer_can_modify=bool(data.get("maintainer_can_modify", False)),
        )
        repo.issues[number] = issue
        return self._json(self._pull_json(repo, issue), 201)

    @_auth("token")
    async def _get_pull(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        return self._json(self._pull_json(repo, self._issue_of(request, pull=True)))

    @_auth("token")
    async def _update_pull(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        issue = self._issue_of(request, pull=True)
        data = request[_PAYLOAD] or {}
        if "title" in data:
            issue.title = data["title"]
        if "body" in data:
            issue.body = data["body"]
        if "base" in data:
            if f"refs/heads/{data['base']}" not in repo.refs:
                raise _unprocessable("Proposed base branch was not found")
            issue.base = data["base"]
        if "state" in data and data["state"] != issue.state:
            if issue.merged_at is not None:
                raise _unprocessable("Cannot change the state of a merged pull request")
            issue.state = data["state"]
            issue.closed_at = _now() if issue.state == "closed" else None
        issue.updated_at = _now()
        return self._json(self._pull_json(repo, issue))

    @_auth("token")
    async def _pull_files_handler(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        issue = self._issue_of(request, pull=True)
        return self._page(request, self._pull_files(repo, issue))

    @_auth("token")
    async def _list_review_comments(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        issue = self._issue_of(request, pull=True)
        return self._page(request, self.review_comments(repo.full_name, issue.number))

    @_auth("token")
    async def _request_reviewers(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        issue = self._issue_of(request, pull=True)
        data = request[_PAYLOAD] or {}
        reviewers = data.get("reviewers", [])
        for login in reviewers:
            if login == issue.user:
                raise _unprocessable(
                    "Review cannot be requested from pull request author."
                )
            perm = self._permissions.get((repo.full_name, login), "none")
            if login not in self._users or perm == "none":
                raise _unprocessable(
                    "Reviews may only be requested from collaborators. One or more of "
                    "the users or teams you specified is not a collaborator of the "
                    f"{repo.full_name} repository."
                )
        for login in reviewers:
            if login not in issue.requested_reviewers:
                issue.requested_reviewers.append(login)
        issue.updated_at = _now()
        return self._json(self._pull_json(repo, issue, simple=True), 201)

    @_auth("token")
    async def _reply_review(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        issue = self._issue_of(request, pull=True)
        parent = self._review_comments.get(int(request.match_info["comment_id"]))
        if parent is None or parent["_repo"] != repo.full_name:
            raise _not_found()
        if parent["_number"] != issue.number:
            raise _not_found()
        root = parent["in_reply_to_id"] or parent["id"]
        comment = self._new_review_comment(
            repo,
            issue,
            self.bot.login,
            request[_PAYLOAD]["body"],
            parent["path"],
            parent["line"],
            root,
            parent["review_id"],
        )
        return self._json(self._review_comment_json(comment), 201)

    # ----- handlers: issues and comments

    @_auth("token")
    async def _list_issues(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        state = request.query.get("state", "open")
        labels = [x for x in request.query.get("labels", "").split(",") if x]
        out = []
        for issue in sorted(repo.issues.values(), key=lambda i: -i.number):
            if state != "all" and issue.state != state:
                continue
            if any(lbl not in issue.labels for lbl in labels):
                continue
            out.append(self._issue_json(repo, issue))
        return self._page(request, out)

    def _ensure_labels(self, repo: Repo, names: Iterable[str]) -> list[str]:
        out = []
        for name in names:
            if name not in repo.labels:
                # GitHub creates unknown labels on the fly with a default colour.
                repo.labels[name] = {"id": next(self._ids), "color": "ededed"}
            out.append(name)
        return out

    @_auth("token")
    async def _create_issue(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        data = request[_PAYLOAD]
        title = data.get("title")
        if title in (None, ""):
            raise _unprocessable(
                "Validation Failed",
                [{"resource": "Issue", "field": "title", "code": "missing_field"}],
            )
        number = max(repo.issues, default=0) + 1
        labels = [
            lbl if isinstance(lbl, str) else lbl["name"]
            for lbl in data.get("labels", [])
        ]
        for login in data.get("assignees", []):
            if self._permissions.get((repo.full_name, login), "none") == "none":
                raise _unprocessable(
                    "Validation Failed",
                    [
                        {
                            "value": login,
                            "resource": "Issue",
                            "field": "assignees",
                            "code": "invalid",
                        }
                    ],
                )
        issue = Issue(
            number=number,
            id=next(self._ids),
            title=str(title),
            body=data.get("body"),
            user=self.bot.login,
            created_at=_now(),
            updated_at=_now(),
            labels=self._ensure_labels(repo, labels),
            assignees=list(data.get("assignees", [])),
        )
        repo.issues[number] = issue
        return self._json(self._issue_json(repo, issue), 201)

    @_auth("token")
    async def _get_issue(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        return self._json(self._issue_json(repo, self._issue_of(request)))

    @_auth("token")
    async def _update_issue(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        issue = self._issue_of(request)
        data = request[_PAYLOAD] or {}
        if "title" in data and data["title"] is not None:
            issue.title = str(data["title"])
        if "body" in data:
            issue.body = data["body"]
        if "labels" in data:
            names = [x if isinstance(x, str) else x["name"] for x in data["labels"]]
            issue.labels = self._ensure_labels(repo, names)
        if "state" in data and data["state"] != issue.state:
            issue.state = data["state"]
            issue.closed_at = _now() if issue.state == "closed" else None
            issue.state_reason = (
                data.get("state_reason") or "completed"
                if issue.state == "closed"
                else "reopened"
            )
        issue.updated_at = _now()
        return self._json(self._issue_json(repo, issue))

    @_auth("token")
    async def _list_issue_comments(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        issue = self._issue_of(request)
        return self._page(request, self.comments(repo.full_name, issue.number))

    @_auth("token")
    async def _create_issue_comment(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        issue = self._issue_of(request)
        body = request[_PAYLOAD]["body"]
        comment = self._new_issue_comment(repo, issue, self.bot.login, body)
        return self._json(self._issue_comment_json(comment), 201)

    @_auth("token")
    async def _update_issue_comment(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        comment = self._issue_comments.get(int(request.match_info["comment_id"]))
        if comment is None or comment["_repo"] != repo.full_name:
            raise _not_found()
        comment["body"] = request[_PAYLOAD]["body"]
        comment["updated_at"] = iso(_now())
        return self._json(self._issue_comment_json(comment))

    @_auth("token")
    async def _add_labels(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        issue = self._issue_of(request)
        data = request[_PAYLOAD]
        if isinstance(data, dict):
            data = data.get("labels", [])
        names = [x if isinstance(x, str) else x["name"] for x in data]
        for name in self._ensure_labels(repo, names):
            if name not in issue.labels:
                issue.labels.append(name)
        issue.updated_at = _now()
        return self._json([self.build.label(repo, n) for n in issue.labels])

    async def _react(
        self, request: web.Request, subject: str, store: dict[int, Json]
    ) -> web.Response:
        repo = self._repo_of(request)
        cid = int(request.match_info["comment_id"])
        comment = store.get(cid)
        if comment is None or comment["_repo"] != repo.full_name:
            raise _not_found()
        content = request[_PAYLOAD]["content"]
        for existing in self._reactions:
            if (existing["subject"], existing["comment_id"], existing["content"]) == (
                subject,
                cid,
                content,
            ) and existing["user"] == self.bot.login:
                # GitHub answers 200 with the existing reaction for a repeat.
                return self._json(self._reaction_json(existing), 200)
        reaction = {
            "id": next(self._ids),
            "subject": subject,
            "comment_id": cid,
            "content": content,
            "user": self.bot.login,
            "created_at": iso(_now()),
        }
        self._reactions.append(reaction)
        return self._json(self._reaction_json(reaction), 201)

    def _reaction_json(self, r: Json) -> Json:
        """``reaction``."""
        return {
            "id": r["id"],
            "node_id": _node_id("REA", r["id"]),
            "user": self.build.simple_user(self._users[r["user"]]),
            "content": r["content"],
            "created_at": r["created_at"],
        }

    @_auth("token")
    async def _react_issue_comment(self, request: web.Request) -> web.Response:
        return await self._react(request, "issue_comment", self._issue_comments)

    @_auth("token")
    async def _react_review_comment(self, request: web.Request) -> web.Response:
        return await self._react(
            request, "pull_request_review_comment", self._review_comments
        )

    # ----- handlers: checks

    @_auth("token")
    async def _create_check_run(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        data = request[_PAYLOAD]
        if data["head_sha"] not in repo.commits:
            raise _unprocessable("No commit found for SHA: " + data["head_sha"])
        cid = next(self._ids)
        run = {
            "id": cid,
            "name": data["name"],
            "head_sha": data["head_sha"],
            "external_id": data.get("external_id"),
            "details_url": data.get("details_url"),
            "status": data.get("status", "queued"),
            "conclusion": data.get("conclusion"),
            "started_at": data.get("started_at") or iso(_now()),
            "completed_at": data.get("completed_at"),
            "output": data.get("output") or {},
            "suite_id": next(self._ids),
            "_repo": repo.full_name,
        }
        self._apply_check_rules(run, data)
        self._check_runs[cid] = run
        return self._json(self._check_run_json(run), 201)

    @staticmethod
    def _apply_check_rules(run: Json, data: Json) -> None:
        # GitHub: a conclusion implies completed; completed needs a conclusion.
        if data.get("conclusion"):
            run["status"] = "completed"
        if run["status"] == "completed":
            if not run["conclusion"]:
                raise _unprocessable(
                    "Invalid request.\n\nNo conclusion for a completed check run."
                )
            run["completed_at"] = run["completed_at"] or iso(_now())

    @_auth("token")
    async def _update_check_run(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request)
        run = self._check_runs.get(int(request.match_info["check_run_id"]))
        if run is None or run["_repo"] != repo.full_name:
            raise _not_found()
        data = request[_PAYLOAD] or {}
        updated = dict(run)
        for key in ("name", "details_url", "external_id", "status", "conclusion"):
            if key in data:
                updated[key] = data[key]
        for key in ("started_at", "completed_at"):
            if data.get(key):
                updated[key] = data[key]
        if "output" in data:
            updated["output"] = data["output"]
        self._apply_check_rules(updated, data)
        run.update(updated)
        return self._json(self._check_run_json(run))


def _as_bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


def _parse_qs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)
