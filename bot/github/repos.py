"""Read trees and files; write branches, commits and pull requests.

The only module besides the client that knows GitHub's REST routes.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from typing import Any

import cachetools
import gidgethub

from .client import GitHubClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tree:
    """A whole tree at one commit: path -> blob sha, for regular files only.

    Symlinks (mode 120000) are left out, so a fix can never write through or
    over one; `modes` keeps each file's mode, so an executable stays one.
    """

    commit_sha: str
    tree_sha: str
    blobs: dict[str, str]
    truncated: bool
    modes: dict[str, str] = field(default_factory=dict)
    links: frozenset[str] = frozenset()


FILE_MODE = "100644"
SYMLINK_MODE = "120000"

# A tree at a commit never changes, nor does a blob's text: both are kept by
# sha, which saves a call (even a 304 is one) for every file read twice.
_TREES: cachetools.LRUCache[tuple[str, str, str], Tree] = cachetools.LRUCache(64)
_BLOB_TEXTS: cachetools.LRUCache[tuple[str, str, str], str | None] = (
    cachetools.LRUCache(512)
)


async def default_branch(gh: GitHubClient, full_name: str) -> str:
    repo = await gh.getitem("/repos/{+full_name}", {"full_name": full_name})
    return str(repo["default_branch"])


async def branch_head(gh: GitHubClient, full_name: str, branch: str) -> str | None:
    """The commit sha a branch points at, or None when it does not exist."""
    try:
        ref = await gh.getitem(
            "/repos/{+full_name}/git/ref/heads/{+branch}",
            {"full_name": full_name, "branch": branch},
        )
    except gidgethub.BadRequest as exc:
        if exc.status_code == 404:
            return None
        raise
    return str(ref["object"]["sha"])


async def read_tree(gh: GitHubClient, full_name: str, commit_sha: str) -> Tree:
    key = (gh.base_url, full_name, commit_sha)
    cached = _TREES.get(key)
    if cached is not None:
        return cached
    # The trees endpoint takes a commit sha for tree_sha and resolves it.
    data = await gh.getitem(
        "/repos/{+full_name}/git/trees/{sha}?recursive=1",
        {"full_name": full_name, "sha": commit_sha},
    )
    files = [
        e for e in data["tree"] if e["type"] == "blob" and e.get("mode") != SYMLINK_MODE
    ]
    tree = Tree(
        commit_sha=commit_sha,
        tree_sha=data["sha"],
        blobs={e["path"]: e["sha"] for e in files},
        truncated=bool(data.get("truncated")),
        modes={e["path"]: e.get("mode", FILE_MODE) for e in files},
        links=frozenset(
            e["path"] for e in data["tree"] if e.get("mode") == SYMLINK_MODE
        ),
    )
    if tree.truncated:
        logger.warning("github.tree_truncated", extra={"repo": full_name})
    _TREES[key] = tree
    return tree


async def read_file(
    gh: GitHubClient, full_name: str, path: str, ref: str
) -> str | None:
    """A text file's content at a ref; None when absent or not UTF-8 text."""
    try:
        data = await gh.getitem(
            "/repos/{+full_name}/contents/{+path}{?ref}",
            {"full_name": full_name, "path": path, "ref": ref},
        )
    except gidgethub.BadRequest as exc:
        if exc.status_code == 404:
            return None
        raise
    if not isinstance(data, dict) or data.get("type") != "file":
        return None
    try:
        return base64.b64decode(data.get("content") or "").decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


async def read_tree_file(
    gh: GitHubClient, full_name: str, tree: Tree, path: str
) -> str | None:
    """A file of a tree read once per blob sha; None when absent or not text."""
    blob_sha = tree.blobs.get(path)
    if blob_sha is None:
        return None
    key = (gh.base_url, full_name, blob_sha)
    if key not in _BLOB_TEXTS:
        _BLOB_TEXTS[key] = await read_file(gh, full_name, path, tree.commit_sha)
    return _BLOB_TEXTS[key]


async def write_commit(
    gh: GitHubClient,
    full_name: str,
    *,
    parent_sha: str,
    base_tree_sha: str,
    files: dict[str, str],
    message: str,
    modes: dict[str, str] | None = None,
) -> str:
    """Create a tree on `base_tree` and a commit on `parent_sha`; return its sha.

    A file keeps the mode `modes` gives it (an executable script stays one).
    """
    modes = modes or {}
    tree = await gh.post(
        "/repos/{+full_name}/git/trees",
        {"full_name": full_name},
        data={
            "base_tree": base_tree_sha,
            "tree": [
                {
                    "path": path,
                    "mode": modes.get(path, FILE_MODE),
                    "type": "blob",
                    "content": content,
                }
                for path, content in sorted(files.items())
            ],
        },
    )
    commit = await gh.post(
        "/repos/{+full_name}/git/commits",
        {"full_name": full_name},
        data={"message": message, "tree": tree["sha"], "parents": [parent_sha]},
    )
    return str(commit["sha"])


async def create_branch(
    gh: GitHubClient, full_name: str, branch: str, sha: str
) -> None:
    await gh.post(
        "/repos/{+full_name}/git/refs",
        {"full_name": full_name},
        data={"ref": f"refs/heads/{branch}", "sha": sha},
    )


async def move_branch(gh: GitHubClient, full_name: str, branch: str, sha: str) -> None:
    """Fast-forward a branch; GitHub refuses (422) anything else. Never forced."""
    await gh.patch(
        "/repos/{+full_name}/git/refs/heads/{+branch}",
        {"full_name": full_name, "branch": branch},
        data={"sha": sha, "force": False},
    )


async def open_pull(
    gh: GitHubClient,
    full_name: str,
    *,
    title: str,
    body: str,
    head: str,
    base: str,
    draft: bool,
) -> dict[str, Any]:
    return await gh.post(
        "/repos/{+full_name}/pulls",
        {"full_name": full_name},
        data={"title": title, "body": body, "head": head, "base": base, "draft": draft},
    )


async def update_pull(
    gh: GitHubClient, full_name: str, number: int, **fields: Any
) -> dict[str, Any]:
    return await gh.patch(
        "/repos/{+full_name}/pulls/{number}",
        {"full_name": full_name, "number": number},
        data=fields,
    )


async def get_pull(gh: GitHubClient, full_name: str, number: int) -> dict[str, Any]:
    return await gh.getitem(
        "/repos/{+full_name}/pulls/{number}",
        {"full_name": full_name, "number": number},
    )


async def add_labels(
    gh: GitHubClient, full_name: str, number: int, labels: list[str]
) -> None:
    await gh.post(
        "/repos/{+full_name}/issues/{number}/labels",
        {"full_name": full_name, "number": number},
        data={"labels": labels},
    )


async def request_reviewers(
    gh: GitHubClient, full_name: str, number: int, reviewers: list[str]
) -> None:
    await gh.post(
        "/repos/{+full_name}/pulls/{number}/requested_reviewers",
        {"full_name": full_name, "number": number},
        data={"reviewers": reviewers},
    )


async def comment(
    gh: GitHubClient, full_name: str, number: int, body: str
) -> dict[str, Any]:
    return await gh.post(
        "/repos/{+full_name}/issues/{number}/comments",
        {"full_name": full_name, "number": number},
        data={"body": body},
    )


async def open_issue(
    gh: GitHubClient, full_name: str, *, title: str, body: str, labels: list[str]
) -> dict[str, Any]:
    return await gh.post(
        "/repos/{+full_name}/issues",
        {"full_name": full_name},
        data={"title": title, "body": body, "labels": labels},
    )


async def update_issue(
    gh: GitHubClient, full_name: str, number: int, **fields: Any
) -> dict[str, Any]:
    return await gh.patch(
        "/repos/{+full_name}/issues/{number}",
        {"full_name": full_name, "number": number},
        data=fields,
    )
