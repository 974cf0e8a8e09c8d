"""Run reviewers' commands on a fix PR: /retry, /ignore, /unignore, /help.

Jobs run in the fingerprint's lane, one at a time per PR. Every command ends
in a reply: the new commit and why, or why nothing was pushed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import gidgethub

from ..events.commands import (
    Source,
    Verb,
    attempts_left,
    is_bot,
    may_command,
    reply,
)
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

{hint}"""

NOT_PUSHED_TEMPLATE = """\
Nothing was pushed: {reason}

{hint}"""

SPENT_TEMPLATE = (
    "Nothing was pushed: all {limit} attempts on this pull request are spent. "
    "Edit the branch by hand, or close this pull request."
)
RETRY_HINT_TEMPLATE = (
    "Attempts left: {left} of {limit}. Comment `/retry <what to change>` to try again."
)
LAST_ATTEMPT_TEMPLATE = (
    "That was the last of {limit} attempts on this pull request: edit the "
    "branch by hand, or close this pull request."
)
MOVED_TEMPLATE = (
    "the branch moved while I worked, and I never force-push over a commit."
)
IGNORED_TEMPLATE = (
    "Closed. No new pull request will open for this error here; comment "
    "`/unignore` on this pull request to lift that."
)
UNIGNORED_TEMPLATE = "Lifted: the next occurrence of this error can open a fix again."
NOT_IGNORED_TEMPLATE = "Nothing to lift: this error is not ignored."
REOPENED_TEMPLATE = "Tried again from scratch: see #{number}."
REOPEN_NO_FIX_TEMPLATE = (
    "Tried again from scratch, but no safe fix came out: {reason}. The next "
    "occurrence of this error can try again."
)
REOPEN_LATER_TEMPLATE = (
    "Lifted: the next occurrence of this error will open a new pull request."
)
NOT_OPEN_TEMPLATE = "Nothing was done: this pull request is closed."
WITHDRAWN_TEMPLATE = (
    "Nothing was done: whoever asked no longer has write access to this repository."
)
FAILED_TEMPLATE = (
    "Something went wrong and nothing was pushed ({error}). Comment the "
    "command again to retry."
)


class Steering:
    def __init__(self, services: Services, pipeline: FixPipeline) -> None:
        self.s = services
        self.pipeline = pipeline

    async def run(self, payload: dict[str, Any]) -> None:
        full_name, number = payload["repo"], int(payload["pr"])
        gh = await self.s.github.installation_client(int(payload["installation_id"]))
        source = Source(**payload["source"])
        verb = Verb(payload["verb"])
        fields = {"repo": full_name, "pr": number, "verb": verb.value}
        logger.info("command.started", extra=fields)
        try:
            if verb is not Verb.HELP and not await may_command(
                gh, full_name, payload["login"], fresh=True
            ):
                # Approved when it arrived; the access was withdrawn since.
                body = WITHDRAWN_TEMPLATE
            else:
                body = await self._body(gh, full_name, number, verb, payload, source)
        except Exception as exc:
            # Not re-raised: a job retry could push a second commit or spend a
            # second attempt. The person who asked hears of it and can ask again.
            logger.exception("command.failed", extra=fields)
            body = FAILED_TEMPLATE.format(error=type(exc).__name__)
        try:
            await reply(gh, full_name, number, source, body)
        except gidgethub.GitHubException:
            # The work is done; failing the job now would run it again.
            logger.exception("command.reply_failed", extra=fields)
            return
        logger.info("command.answered", extra=fields)

    async def _body(
        self,
        gh: GitHubClient,
        full_name: str,
        number: int,
        verb: Verb,
        payload: dict[str, Any],
        source: Source,
    ) -> str:
        """Carry out one command; return the reply."""
        fix = self.s.store.fix_by_pr(full_name, number)
        if fix is None:
            # An earlier command in the lane gave the error a new PR.
            return NOT_OPEN_TEMPLATE
        config = self._config(full_name)
        if verb is Verb.HELP:
            left = attempts_left(self.s, fix, config.max_attempts)
            return HELP_TEMPLATE.format(left=left, limit=config.max_attempts)
        if verb is Verb.IGNORE:
            return await self._ignore(gh, fix)
        if verb is Verb.UNIGNORE:
            if fix.state is not FixState.MUTED:
                return NOT_IGNORED_TEMPLATE
            self.s.store.update_fix(full_name, fix.fingerprint, state=FixState.NEW)
            return UNIGNORED_TEMPLATE
        if fix.state is FixState.OPEN:
            return await self._retry(gh, fix, config, payload["text"], source)
        if fix.state is FixState.DECLINED:
            return await self._start_over(gh, fix, config)
        return NOT_OPEN_TEMPLATE

    def _config(self, full_name: str) -> RepoConfig:
        row = self.s.store.repo(full_name)
        if row is None or not row["config"]:
            return RepoConfig()
        return parse_config(json.loads(row["config"]))[0]

    async def _ignore(self, gh: GitHubClient, fix: Fix) -> str:
        assert fix.pr_number is not None
        # Muted before closing, so the closed webhook finds nothing to decline.
        self.s.store.update_fix(fix.repo, fix.fingerprint, state=FixState.MUTED)
        if fix.state is FixState.OPEN:
            await repos.update_pull(gh, fix.repo, fix.pr_number, state="closed")
        return IGNORED_TEMPLATE

    async def _start_over(self, gh: GitHubClient, fix: Fix, config: RepoConfig) -> str:
        """A /retry on a declined PR lifts the decline and tries a new PR now."""
        self.s.store.update_fix(fix.repo, fix.fingerprint, state=FixState.NEW)
        row = self.s.store.repo(fix.repo)
        if fix.traceback is None or row is None:
            return REOPEN_LATER_TEMPLATE
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
        after = self.s.store.fix(fix.repo, fix.fingerprint)
        assert after is not None
        if after.state is FixState.OPEN and after.pr_number != fix.pr_number:
            return REOPENED_TEMPLATE.format(number=after.pr_number)
        attempts = self.s.store.attempts(fix.repo, fix.fingerprint)
        reason = attempts[-1]["detail"] if attempts else None
        return REOPEN_NO_FIX_TEMPLATE.format(reason=reason or "no edit applied")

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
        if pull["state"] != "open":
            # Closed while the command waited; its webhook may still be on the way.
            return NOT_OPEN_TEMPLATE
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

        tree = await repos.read_tree(gh, fix.repo, head_sha)
        attempt = await self.pipeline.ask(prompt, model, files, config, read_more, tree)
        self.pipeline.record(
            fix.repo, fix.fingerprint, "retry", model, attempt, pr_number=fix.pr_number
        )
        left = attempts_left(self.s, fix, limit)
        template = RETRY_HINT_TEMPLATE if left > 0 else LAST_ATTEMPT_TEMPLATE
        hint = template.format(left=left, limit=limit)
        if not attempt.ok:
            reason = attempt.failure or "no edit applied"
            return NOT_PUSHED_TEMPLATE.format(reason=reason, hint=hint)
        assert attempt.result is not None
        try:
            sha = await repos.write_commit(
                gh,
                fix.repo,
                parent_sha=head_sha,
                base_tree_sha=tree.tree_sha,
                modes=tree.modes,
                files=attempt.result.files,
                message=f"{attempt.title or 'Address review feedback'}\n\n"
                f"Requested with /retry on #{fix.pr_number}.\n",
            )
            await repos.move_branch(gh, fix.repo, branch, sha)
        except gidgethub.BadRequest as exc:
            if exc.status_code != 422:
                raise
            # Someone pushed while we worked; never force over their commit.
            return NOT_PUSHED_TEMPLATE.format(reason=MOVED_TEMPLATE, hint=hint)
        logger.info(
            "command.pushed", extra={"repo": fix.repo, "pr": fix.pr_number, "sha": sha}
        )
        return PUSHED_TEMPLATE.format(
            sha=sha,
            branch=branch,
            title=attempt.title or "an updated fix",
            explanation=attempt.explanation or attempt.root_cause,
            hint=hint,
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
            # Ids grow with time: what came after the command is not its context.
            if not in_thread or comment["id"] >= (source.comment_id or 0):
                continue
            # Only words of people who may command reach the model, and only
            # as written: an edited comment may say what nobody approved.
            login = comment["user"]["login"]
            if (
                is_bot(comment["user"])
                or comment.get("updated_at") != comment.get("created_at")
                or not await may_command(gh, fix.repo, login)
            ):
                continue
            earlier.append(f"{login}: {comment['body']}")
        return source.path or "?", source.line, source.diff_hunk or "", earlier
