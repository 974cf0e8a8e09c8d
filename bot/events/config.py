"""push touching .github/self-healing.yml: reload it; report problems on a check run."""

from __future__ import annotations

import json
import logging
from typing import Any

import gidgethub
import gidgethub.routing
import gidgethub.sansio

from ..github import repos
from ..github.client import GitHubClient
from ..repo_config import CONFIG_PATH, ConfigError, load_yaml, merge, parse_config
from ..services import Services
from . import installations

logger = logging.getLogger(__name__)
router = gidgethub.routing.Router()

LOAD_CONFIG_JOB = "load_config"
CHECK_NAME = "self-healing config"
# The organisation's defaults live here, as Probot's `_extends` expects.
ORG_DEFAULTS_REPO = ".github"
# https://docs.github.com/webhooks/webhook-events-and-payloads#push
PUSH_COMMITS_LISTED = 20

VALID_SUMMARY = f"{CONFIG_PATH} is valid."
WARNINGS_SUMMARY = f"{CONFIG_PATH} is valid, with warnings."
INVALID_SUMMARY = f"{CONFIG_PATH} is not valid; the last good config stays in force."
NO_PROBLEMS_TEXT = "No problems found."


@router.register("push")
async def config_pushed(event: gidgethub.sansio.Event, services: Services) -> None:
    data = event.data
    repo = data.get("repository") or {}
    default_ref = f"refs/heads/{repo.get('default_branch')}"
    if data.get("ref") != default_ref or data.get("deleted"):
        return
    commits = data.get("commits") or []
    touched = {
        path
        for commit in commits
        for kind in ("added", "modified", "removed")
        for path in commit.get(kind) or []
    }
    # GitHub lists at most PUSH_COMMITS_LISTED commits; past that, look anyway.
    if CONFIG_PATH not in touched and len(commits) < PUSH_COMMITS_LISTED:
        return
    installation_id = data["installation"]["id"]
    if repo.get("name") == ORG_DEFAULTS_REPO:
        # Repos that extend the organisation's defaults read them again.
        services.queue.put(
            installations.SYNC_INSTALLATION_JOB, {"installation_id": installation_id}
        )
    services.queue.put(
        LOAD_CONFIG_JOB,
        {
            "installation_id": installation_id,
            "repo": repo["full_name"],
            "default_branch": repo.get("default_branch"),
            "head_sha": data.get("after"),
        },
    )


async def load_config_job(services: Services, payload: dict[str, Any]) -> None:
    installation_id = int(payload["installation_id"])
    if not services.store.installation_active(installation_id):
        return
    gh = await services.github.installation_client(installation_id)
    services.store.put_repo(
        payload["repo"], installation_id, payload.get("default_branch")
    )
    await load_config(services, gh, payload["repo"], head_sha=payload.get("head_sha"))


async def load_config(
    services: Services,
    gh: GitHubClient,
    full_name: str,
    *,
    head_sha: str | None = None,
) -> None:
    """Read, validate and store a repo's config; keep the last good one on error.

    With `head_sha` (a push), the outcome is reported on a check run there.
    """
    row = services.store.repo(full_name)
    ref = head_sha or (row["default_branch"] if row else None)
    if ref is None:
        ref = await repos.default_branch(gh, full_name)
    text = await repos.read_file(gh, full_name, CONFIG_PATH, ref)
    if text is None:
        # No file (or it was removed): the repo claims no log group.
        services.store.clear_config(full_name)
        return
    warnings: list[str] = []
    try:
        data = load_yaml(text)
        extends = data.get("_extends")
        if extends is not None:
            data = merge(await _org_defaults(gh, full_name, extends), data)
        config, warnings = parse_config(data)
    except ConfigError as exc:
        services.store.set_config(full_name, None, str(exc))
        logger.warning("config.invalid", extra={"repo": full_name, "error": str(exc)})
        if head_sha:
            await _report(gh, full_name, head_sha, str(exc), warnings, ok=False)
        return
    services.store.set_config(full_name, config.to_dict(), None)
    for warning in warnings:
        logger.warning("config.warning", extra={"repo": full_name, "warning": warning})
    logger.info(
        "config.loaded",
        extra={"repo": full_name, "log_groups": [g.name for g in config.log_groups]},
    )
    if head_sha:
        await _report(gh, full_name, head_sha, "", warnings, ok=True)
    services.queue.put("reroute", {"repo": full_name})


async def _org_defaults(
    gh: GitHubClient, full_name: str, extends: Any
) -> dict[str, Any]:
    """The config a repo extends: `repo`, `owner/repo`, or `owner/repo:path`."""
    if not isinstance(extends, str) or not extends.strip():
        raise ConfigError("_extends", "must name a repository, like .github")
    target, _, path = extends.strip().partition(":")
    if "/" not in target:
        target = f"{full_name.split('/')[0]}/{target}"
    try:
        branch = await repos.default_branch(gh, target)
        text = await repos.read_file(gh, target, path or CONFIG_PATH, branch)
    except gidgethub.GitHubException as exc:
        # The app reads only repositories it is installed on.
        why = f"{target} could not be read ({exc}); is the app installed on it?"
        raise ConfigError("_extends", why) from exc
    if text is None:
        raise ConfigError("_extends", f"{target} has no {path or CONFIG_PATH}")
    return load_yaml(text)


async def _report(
    gh: GitHubClient,
    full_name: str,
    head_sha: str,
    error: str,
    warnings: list[str],
    *,
    ok: bool,
) -> None:
    if ok and not warnings:
        summary = VALID_SUMMARY
    elif ok:
        summary = WARNINGS_SUMMARY
    else:
        summary = INVALID_SUMMARY
    text = "\n".join(f"- {line}" for line in ([error] if error else []) + warnings)
    try:
        await gh.post(
            "/repos/{+full_name}/check-runs",
            {"full_name": full_name},
            data={
                "name": CHECK_NAME,
                "head_sha": head_sha,
                "status": "completed",
                "conclusion": "success" if ok else "failure",
                "output": {
                    "title": summary,
                    "summary": summary,
                    "text": text or NO_PROBLEMS_TEXT,
                },
            },
        )
    except gidgethub.GitHubException as exc:
        logger.warning(
            "config.check_run_failed", extra={"repo": full_name, "error": str(exc)}
        )


def stored_config(row: Any) -> dict[str, Any] | None:
    return json.loads(row["config"]) if row and row["config"] else None
