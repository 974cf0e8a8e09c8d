"""Occurrence -> fix -> pull request.

One job per occurrence, run in the fingerprint's lane so that two copies of
one error never race to open two pull requests.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import gidgethub

from ..github import repos
from ..github.client import GitHubClient
from ..repo_config import RepoConfig, parse_config
from ..services import Services
from ..store import Fix, FixState, Occurrence
from ..tracebacks import Frame, Traceback, short_fingerprint
from ..tracebacks.inapp import is_in_app
from . import bodies, prompts
from .context import FrameSite, build_context
from .edits import EditResult, apply_blocks, read_answer
from .mapping import PathIndex
from .providers import Completion, ModelError, Turn, estimate_cost

logger = logging.getLogger(__name__)

BRANCH_PREFIX = "self-healing/"
# Edit a PR body's occurrence tally at most this often.
TALLY_EDIT_SECONDS = 60
# Tracebacks no repository claims wait this long for a config that does.
UNCLAIMED_TTL_SECONDS = 24 * 3600


@dataclass
class Attempt:
    """A model answer turned into checked file changes, or the reason not."""

    completion: Completion | None = None
    result: EditResult | None = None
    title: str = ""
    root_cause: str = ""
    explanation: str = ""
    prompt_chars: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    failure: str | None = "not asked"

    @property
    def ok(self) -> bool:
        return self.failure is None and self.result is not None and self.result.ok


def fix_lane(fingerprint: str) -> str:
    return f"fix:{fingerprint}"


def branch_for(fingerprint: str) -> str:
    return BRANCH_PREFIX + short_fingerprint(fingerprint)


class FixPipeline:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def handle_occurrence(self, payload: dict[str, Any]) -> None:
        occurrence = self.s.store.occurrence(int(payload["occurrence_id"]))
        if occurrence is None:
            return
        fields = {"fingerprint": occurrence.fingerprint, "occurrence": occurrence.id}
        claim = self.claiming_repo(occurrence)
        if claim is None:
            logger.info(
                "occurrence.unclaimed",
                extra={**fields, "log_group": occurrence.log_group},
            )
            return
        repo_row, config = claim
        full_name = repo_row["full_name"]
        fields["repo"] = full_name
        tb = Traceback.from_dict(occurrence.traceback)
        if config.ignores(tb.final.type, tb.final.message):
            logger.info("occurrence.ignored_by_config", extra=fields)
            self.s.store.drop_occurrence(occurrence.id)
            return
        fix = self.s.store.tally(full_name, occurrence)
        gh = await self.s.github.installation_client(repo_row["installation_id"])
        if fix.state in (FixState.MUTED, FixState.DECLINED):
            logger.info(
                "occurrence.skipped", extra={**fields, "state": fix.state.value}
            )
        elif fix.state in (FixState.OPEN, FixState.UNFIXED):
            await self._update_tally(gh, fix)
        else:
            previous = fix.pr_number if fix.state is FixState.FIXED else None
            await self.open_fix(gh, repo_row, config, tb, occurrence, fix, previous)
        # Only now: a failure above leaves the occurrence for the job's retry.
        self.s.store.drop_occurrence(occurrence.id)

    def claiming_repo(self, occurrence: Occurrence) -> tuple[Any, RepoConfig] | None:
        """The repo whose config lists the log group; the earliest claim wins.

        A forwarder key bound to an installation only reaches that
        installation's repositories.
        """
        installation_id = None
        if occurrence.key_id not in (None, self.s.settings.forwarder_key_id):
            key = self.s.store.key(occurrence.key_id)
            if key is None or key.installation_id is None:
                return None  # a key deleted meanwhile reaches no one
            installation_id = key.installation_id
        claims = [
            (row, parse_config(json.loads(row["config"]))[0])
            for row in self.s.store.claimants(occurrence.log_group, installation_id)
        ]
        if len(claims) > 1:
            logger.warning(
                "routing.conflict",
                extra={
                    "log_group": occurrence.log_group,
                    "winner": claims[0][0]["full_name"],
                    "others": [row["full_name"] for row, _ in claims[1:]],
                },
            )
        return claims[0] if claims else None

    async def open_fix(
        self,
        gh: GitHubClient,
        repo_row: Any,
        config: RepoConfig,
        tb: Traceback,
        occurrence: Occurrence,
        fix: Fix,
        previous_pr: int | None,
    ) -> None:
        full_name = repo_row["full_name"]
        calls_before = gh.counter.total
        base = config.base_branch or repo_row["default_branch"]
        if not base:
            base = await repos.default_branch(gh, full_name)
        head_sha = await repos.branch_head(gh, full_name, base)
        if head_sha is None:
            raise RuntimeError(f"{full_name} has no branch {base!r}")
        tree = await repos.read_tree(gh, full_name, head_sha)
        index = PathIndex(tree.blobs)
        sites = frame_sites(tb, index, config.path_map_for(occurrence.log_group))
        sites = _limit_files(sites, config.max_files)
        files: dict[str, str | None] = {}
        for path in dict.fromkeys(site.path for site in sites):
            files[path] = await repos.read_tree_file(gh, full_name, tree, path)
        snippets = build_context(
            sites,
            {p: t for p, t in files.items() if t is not None},
            token_budget=self.s.settings.prompt_token_budget,
        )
        prompt = prompts.fix_prompt(
            occurrence.text, snippets, _summary(occurrence, full_name)
        )
        model = config.model or self.s.settings.model_id

        async def read_more(path: str) -> str | None:
            return await repos.read_tree_file(gh, full_name, tree, path)

        attempt = await self.ask(prompt, model, files, config, read_more, tree)
        cost = self.record(full_name, fix.fingerprint, "fix", model, attempt)
        tally = bodies.Tally(
            fix.occurrences, fix.first_seen, fix.last_seen, occurrence.log_group
        )
        if not attempt.ok:
            await self._no_fix(
                gh, full_name, config, tb, occurrence, fix, attempt, tally
            )
            return
        assert attempt.result is not None and attempt.completion is not None
        message = f"{attempt.title or 'Fix ' + (tb.final.type or 'error')}\n\n" + (
            f"Fixes {tb.final.type}: {_first_line(tb.final.message)}\n"
            f"Fingerprint: {fix.fingerprint}\n"
        )
        commit_sha = await repos.write_commit(
            gh,
            full_name,
            parent_sha=head_sha,
            base_tree_sha=tree.tree_sha,
            files=attempt.result.files,
            message=message,
            modes=tree.modes,
        )
        branch = await self._create_branch(gh, full_name, fix.fingerprint, commit_sha)
        body = bodies.pull_body(
            exc_type=tb.final.type,
            message=tb.final.message,
            root_cause=attempt.root_cause,
            explanation=attempt.explanation,
            traceback_text=occurrence.text,
            tally=tally,
            model=model,
            input_tokens=attempt.input_tokens,
            output_tokens=attempt.output_tokens,
            cost=cost,
            fingerprint=fix.fingerprint,
            previous_pr=previous_pr,
        )
        pull = await repos.open_pull(
            gh,
            full_name,
            title=bodies.pull_title(attempt.title, tb.final.type),
            body=body,
            head=branch,
            base=base,
            draft=config.draft,
        )
        number = int(pull["number"])
        self.s.store.update_fix(
            full_name,
            fix.fingerprint,
            state=FixState.OPEN,
            pr_number=number,
            branch=branch,
            previous_pr=previous_pr,
            body_updated_at=time.time(),
        )
        await self._decorate(gh, full_name, number, config)
        logger.info(
            "fix.pull_opened",
            extra={
                "repo": full_name,
                "pr": number,
                "fingerprint": fix.fingerprint,
                "files": sorted(attempt.result.files),
                "github_calls": gh.counter.total - calls_before,
                "prompt_chars": attempt.prompt_chars,
            },
        )

    async def ask(
        self,
        prompt: prompts.Prompt,
        model: str,
        files: dict[str, str | None],
        config: RepoConfig,
        read_more: Any,
        tree: repos.Tree,
    ) -> Attempt:
        """Ask the model, apply its edits, and give it one repair round.

        Edits go only where the config allows and never to a symlink, which
        an edit would replace with a plain file.
        """

        def may_edit(path: str) -> bool:
            return path not in tree.links and config.may_edit(path)

        attempt = Attempt()
        history: tuple[Turn, ...] = ()
        user = prompt.user
        for round_number in range(2):
            try:
                completion = await self.s.provider.complete(
                    system=prompt.system, prompt=user, model=model, history=history
                )
            except ModelError as exc:
                attempt.failure = f"the model could not be asked: {exc}"
                return attempt
            attempt.completion = completion
            attempt.prompt_chars += len(prompt.system) + len(user)
            attempt.prompt_chars += sum(len(turn.text) for turn in history)
            attempt.input_tokens += completion.input_tokens
            attempt.output_tokens += completion.output_tokens
            answer = read_answer(completion.text)
            for block in answer.blocks:
                if block.path not in files:
                    files[block.path] = await read_more(block.path)
            result = apply_blocks(
                answer.blocks,
                files,
                may_edit=may_edit,
                max_files=config.max_files,
            )
            attempt.result = result
            attempt.title = answer.title
            attempt.root_cause = answer.root_cause
            attempt.explanation = answer.explanation
            problems = [p.message for p in result.problems] + answer.problems
            if not answer.blocks:
                problems.append("the model proposed no edit")
            if not problems and result.ok:
                attempt.failure = None
                return attempt
            attempt.failure = "; ".join(problems) or "no edit applied"
            # An answer that explains why it cannot fix is not worth a repair.
            if round_number == 1 or (not answer.blocks and answer.root_cause):
                break
            logger.info("fix.repair_round", extra={"problems": problems})
            history = (Turn("user", user), Turn("assistant", completion.text))
            nearest = {p.path: p.nearest for p in result.problems if p.nearest}
            user = prompts.repair_prompt(problems, nearest)
        return attempt

    def record(
        self,
        repo: str,
        fingerprint: str,
        kind: str,
        model: str,
        attempt: Attempt,
        *,
        pr_number: int | None = None,
    ) -> float | None:
        """Store the attempt with its tokens and cost; return the cost."""
        cost = estimate_cost(
            model, attempt.input_tokens, attempt.output_tokens, self.s.settings.prices
        )
        self.s.store.add_attempt(
            repo=repo,
            fingerprint=fingerprint,
            kind=kind,
            pr_number=pr_number,
            outcome="ok" if attempt.ok else "no_fix",
            model=model,
            input_tokens=attempt.input_tokens,
            output_tokens=attempt.output_tokens,
            cost=cost,
            prompt_chars=attempt.prompt_chars,
            detail=attempt.failure,
        )
        return cost

    async def _create_branch(
        self, gh: GitHubClient, full_name: str, fingerprint: str, sha: str
    ) -> str:
        """The fingerprint's branch; a suffix when an old one still stands."""
        base_name = branch_for(fingerprint)
        for n in range(1, 20):
            name = base_name if n == 1 else f"{base_name}-{n}"
            try:
                await repos.create_branch(gh, full_name, name, sha)
            except gidgethub.BadRequest as exc:
                if exc.status_code == 422:  # Reference already exists
                    continue
                raise
            return name
        raise RuntimeError(f"no free branch name for {base_name}")

    async def _decorate(
        self, gh: GitHubClient, full_name: str, number: int, config: RepoConfig
    ) -> None:
        """Labels and reviewers: nice to have, never worth losing the PR over."""
        try:
            if config.labels:
                await repos.add_labels(gh, full_name, number, list(config.labels))
            if config.reviewers:
                await repos.request_reviewers(
                    gh, full_name, number, list(config.reviewers)
                )
        except gidgethub.GitHubException as exc:
            logger.warning(
                "fix.decorate_failed",
                extra={"repo": full_name, "pr": number, "error": str(exc)},
            )

    async def _update_tally(self, gh: GitHubClient, fix: Fix) -> None:
        """Edit the open PR's (or issue's) occurrence count, at most once a minute."""
        number = fix.pr_number if fix.state is FixState.OPEN else fix.issue_number
        if number is None:
            return
        if (
            fix.body_updated_at
            and time.time() - fix.body_updated_at < TALLY_EDIT_SECONDS
        ):
            return
        tally = bodies.Tally(
            fix.occurrences, fix.first_seen, fix.last_seen, fix.log_group or "?"
        )
        issue = await gh.getitem(
            "/repos/{+full_name}/issues/{number}",
            {"full_name": fix.repo, "number": number},
        )
        body = bodies.with_tally(issue.get("body") or "", tally)
        if body is not None:
            await repos.update_issue(gh, fix.repo, number, body=body)
        self.s.store.update_fix(fix.repo, fix.fingerprint, body_updated_at=time.time())
        logger.info(
            "fix.tally_updated",
            extra={"repo": fix.repo, "number": number, "count": fix.occurrences},
        )

    async def _no_fix(
        self,
        gh: GitHubClient,
        full_name: str,
        config: RepoConfig,
        tb: Traceback,
        occurrence: Occurrence,
        fix: Fix,
        attempt: Attempt,
        tally: bodies.Tally,
    ) -> None:
        logger.warning(
            "fix.no_safe_fix",
            extra={
                "repo": full_name,
                "fingerprint": fix.fingerprint,
                "reason": attempt.failure,
            },
        )
        self.s.store.update_fix(full_name, fix.fingerprint, state=FixState.UNFIXED)
        if not config.open_issues:
            return
        body = bodies.issue_body(
            exc_type=tb.final.type,
            message=tb.final.message,
            reason=attempt.failure or "no edit applied",
            analysis="\n\n".join(
                part for part in (attempt.root_cause, attempt.explanation) if part
            ),
            traceback_text=occurrence.text,
            tally=tally,
            fingerprint=fix.fingerprint,
        )
        title = f"{tb.final.type or 'Error'}: {_first_line(tb.final.message)}"[:100]
        if fix.issue_number:
            await repos.update_issue(gh, full_name, fix.issue_number, body=body)
            return
        issue = await repos.open_issue(
            gh, full_name, title=title, body=body, labels=list(config.labels)
        )
        self.s.store.update_fix(
            full_name,
            fix.fingerprint,
            issue_number=int(issue["number"]),
            body_updated_at=time.time(),
        )


def frame_sites(
    tb: Traceback, index: PathIndex, path_map: dict[str, str]
) -> list[FrameSite]:
    """Frames that map to repo files, innermost first, across the chain.

    In-app frames map by path; an installed package's frames map only when the
    repository is that package (`index.map_installed`).
    """
    sites: list[FrameSite] = []
    seen: set[tuple[str, int | None]] = set()
    for block in reversed(tb.blocks):
        located: list[Frame] = []
        if block.syntax_error is not None and block.syntax_error.file:
            where = block.syntax_error
            located.append(
                Frame(where.file, where.line, None, in_app=is_in_app(where.file))
            )
        located.extend(reversed(block.frames))
        for frame in located:
            if frame.in_app:
                path = index.map(frame.file, path_map)
            else:
                path = index.map_installed(frame.file)
            if path is None or (path, frame.line) in seen:
                continue
            seen.add((path, frame.line))
            sites.append(FrameSite(path, frame.line, frame.function))
    return sites


def _limit_files(sites: list[FrameSite], max_files: int) -> list[FrameSite]:
    allowed = list(dict.fromkeys(site.path for site in sites))[:max_files]
    return [site for site in sites if site.path in allowed]


def _summary(occurrence: Occurrence, full_name: str) -> str:
    count = f"{occurrence.count} time" + ("s" if occurrence.count != 1 else "")
    return (
        f"in log group `{occurrence.log_group}` ({count}), for repository {full_name}"
    )


def _first_line(message: str | None) -> str:
    return (
        (message or "").strip().splitlines()[0][:200] if (message or "").strip() else ""
    )
