"""Run reviewers' commands on a fix PR: /retry, /ignore, /unignore, /help.

Jobs run in the fingerprint's lane, one at a time per PR. Every command ends
in a reply: the new commit and why, or why nothing was pushed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import gidgethub

from ..events.commands import Source, Verb, attempts_left, reply
from ..github import repos
from ..github.client import GitHubClient
from ..repo_config import RepoConfig, parse_config
from ..services import Services
from ..store import Fix, FixState, Occurrence
from ..tracebacks import Traceback
from . import prompts
from .pipeline import FixPipeline

logger = logging.getLogger(__name__)

HELP_TEMPLATE = """\
Commands (for people with write access), at the start of a line in a \
comment, a review or a line comment:
- `/retry <feedback>`: try again with your feedback and push a new commit \
to this branch
- `/ignore`: close this pull request and open no new one for this error
- `/unignore`: on a closed pull request, let fixes for this error open again
- `/help`: this list

Attempts left on this pull request: {left} of {limit}."""

PUSHED_TEMPLATE = """\
Pushed {sha} to `{branch}`: {title}

{explanation}

Attempts left: {left} of {limit}."""

NOT_PUSHED_TEMPLATE = """\
Nothing was pushed: {reason}

{hint}"""

SPENT_TEMPLATE = (
    "Nothing was pushed: all {limit} attempts on this pull request are spent. "
    "Edit the branch by hand, or close this pull request."
)
IGNORED_TEMPLATE = (
    "Closed. No new pull request will open for this error here; comment "
    "`/unignore` on this pull request to lift that."
)
UNIGNORED_TEMPLATE = "Lifted: the next occurrence of this error can open a fix again."
REOPEN_TEMPLATE = "Trying again from scratch: a new pull request will follow."
NOT_OPEN_TEMPLATE = "Nothing was done: this pull request is closed."


class Steering:
    def __init__(self, services: Services, pipeline: FixPipeline) -> None:
        self.s = services
        self.pipeline = pipeline

    async def run(self, payload: dict[str, Any]) -> None:
        full_name, number = payload["repo"], int(payload["pr"])
        fix = self.s.store.fix_by_pr(full_name, number)
        if fix is None:
            return
        gh = await self.s.github.installation_client(int(payload["installation_id"]))
        source = Source(**payload["source"])
        config = self._config(full_name)
        verb = Verb(payload["verb"])
        logger.info(
            "command.started",
            extra={"repo": full_name, "pr": number, "verb": verb.value},
        )
        if verb is Verb.HELP:
            left = attempts_left(self.s, fix, config.max_attempts)
            body = HELP_TEMPLATE.format(left=left, limit=config.max_attempts)
        elif verb is Verb.IGNORE:
            body = await self._ignore(gh, fix)
        elif verb is Verb.UNIGNORE:
            self.s.store.update_fix(full_name, fix.fingerprint, state=FixState.NEW)
            body = UNIGNORED_TEMPLATE
        elif fix.state is FixState.OPEN:
            body = await self._retry(gh, fix, config, payload["text"], source)
        elif fix.state is FixState.DECLINED:
            body = await self._start_over(gh, fix, config)
        else:
            body = NOT_OPEN_TEMPLATE
        await reply(gh, full_name, number, source, body)

    def _config(self, full_name: str) -> RepoConfig:
        row = self.s.store.repo(full_name)
        if row is None or not row["config"]:
            return RepoConfig()
        return parse_config(json.loads(row["config"]))[0]

    async def _ignore(self, gh: GitHubClient, fix: Fix) -> str:
        assert fix.pr_number is not None
        if fix.state is FixState.OPEN:
            await repos.update_pull(gh, fix.repo, fix.pr_number, state="closed")
        self.s.store.update_fix(fix.repo, fix.fingerprint, state=FixState.MUTED)
        return IGNORED_TEMPLATE

    async def _start_over(self, gh: GitHubClient, fix: Fix, config: RepoConfig) -> str:
        """A /retry on a declined PR: the fingerprint may open a new one."""
        self.s.store.update_fix(fix.repo, fix.fingerprint, state=FixState.NEW)
        if fix.traceback is None:
            return REOPEN_TEMPLATE
        row = self.s.store.repo(fix.repo)
        occurrence = Occurrence(
            id=0,
            fingerprint=fix.fingerprint,
            log_group=fix.log_group or "",
            log_stream=None,
            key_id=None,
            count=fix.occurrences,
            first_seen=fix.first_seen,
            last_seen=fix.last_seen,
            traceback=fix.traceback,
            text=fix.text or "",
        )
        fresh = self.s.store.fix(fix.repo, fix.fingerprint)
        assert fresh is not None
        await self.pipeline.open_fix(
            gh, row, config, Traceback.from_dict(fix.traceback), occurrence, fresh, None
        )
        return REOPEN_TEMPLATE

    async def _retry(
        self,
        gh: GitHubClient,
        fix: Fix,
        config: RepoConfig,
        feedback: str,
        source: Source,
    ) -> str:
        assert fix.pr_number is not None
        limit = config.max_attempts
        if attempts_left(self.s, fix, limit) <= 0:
            return SPENT_TEMPLATE.format(limit=limit)
        # Read the branch as it is now: a human's commit is built on, not lost.
        pull = await repos.get_pull(gh, fix.repo, fix.pr_number)
        branch, head_sha = pull["head"]["ref"], pull["head"]["sha"]
        changed = [
            item
            async for item in gh.getiter(
                "/repos/{+full_name}/pulls/{number}/files",
                {"full_name": fix.repo, "number": fix.pr_number},
            )
        ]
        diff = "".join(
            f"--- a/{c['filename']}\n+++ b/{c['filename']}\n{c.get('patch', '')}\n"
            for c in changed
        )
        files: dict[str, str | None] = {}
        for item in changed:
            if item.get("status") != "removed":
                files[item["filename"]] = await repos.read_file(
                    gh, fix.repo, item["filename"], head_sha
                )
        thread = await self._thread(gh, fix, source) if source.kind == "line" else None
        prompt = prompts.retry_prompt(
            fix.text or "",
            diff,
            {p: t for p, t in files.items() if t is not None},
            feedback,
            thread=thread,
        )
        model = config.model or self.s.settings.model_id

        async def read_more(path: str) -> str | None:
            return await repos.read_file(gh, fix.repo, path, head_sha)

        attempt = await self.pipeline.ask(prompt, model, files, config, read_more)
        self.pipeline.record(
            fix.repo, fix.fingerprint, "retry", model, attempt, pr_number=fix.pr_number
        )
        left = attempts_left(self.s, fix, limit)
        if not attempt.ok:
            return NOT_PUSHED_TEMPLATE.format(
                reason=attempt.failure or "no edit applied",
                hint=f"Attempts left: {left} of {limit}.",
            )
        assert attempt.result is not None
        try:
            base_tree = await repos.commit_tree_sha(gh, fix.repo, head_sha)
            sha = await repos.write_commit(
                gh,
                fix.repo,
                parent_sha=head_sha,
                base_tree_sha=base_tree,
                files=attempt.result.files,
                message=f"{attempt.title or 'Address review feedback'}\n\n"
                f"Requested with /retry on #{fix.pr_number}.\n",
            )
            await repos.move_branch(gh, fix.repo, branch, sha)
        except gidgethub.BadRequest as exc:
            if exc.status_code != 422:
                raise
            # Someone pushed while we worked; never force over their commit.
            return NOT_PUSHED_TEMPLATE.format(
                reason="the branch moved while I worked; nothing was overwritten.",
                hint="Comment `/retry` again to build on the new commit.",
            )
        logger.info(
            "command.pushed", extra={"repo": fix.repo, "pr": fix.pr_number, "sha": sha}
        )
        return PUSHED_TEMPLATE.format(
            sha=sha[:7],
            branch=branch,
            title=attempt.title or "an updated fix",
            explanation=attempt.explanation or attempt.root_cause,
            left=left,
            limit=limit,
        )

    async def _thread(
        self, gh: GitHubClient, fix: Fix, source: Source
    ) -> tuple[str, int | None, str, list[str]]:
        """The line comment's place and the earlier comments of its thread."""
        earlier = []
        async for comment in gh.getiter(
            "/repos/{+full_name}/pulls/{number}/comments",
            {"full_name": fix.repo, "number": fix.pr_number},
        ):
            in_thread = source.thread_root in (
                comment["id"],
                comment.get("in_reply_to_id"),
            )
            if in_thread and comment["id"] != source.comment_id:
                earlier.append(f"{comment['user']['login']}: {comment['body']}")
        return source.path or "?", source.line, source.diff_hunk or "", earlier
