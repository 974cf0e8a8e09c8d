"""/retry, /ignore, /unignore and /help from comments, reviews and line comments.

The webhook handlers only decide whether to act: they read the command from
the payload as it was created (an edit cannot swap an approved instruction),
check the sender with the collaborator-permission API, acknowledge with a
reaction, and queue the work in the pull request's lane.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from typing import Any

import cachetools
import gidgethub
import gidgethub.routing
import gidgethub.sansio

from ..fixing.pipeline import fix_lane
from ..github.client import GitHubClient
from ..services import Services
from ..store import Fix

logger = logging.getLogger(__name__)
router = gidgethub.routing.Router()

COMMAND_JOB = "command"
# `role_name` says "maintain" where `permission` can only say "write".
ALLOWED_PERMISSIONS = {"admin", "maintain", "write"}
PERMISSION_CACHE_SECONDS = 60

REFUSED_TEMPLATE = (
    "@{login} only people with write, maintain or admin permission on this "
    "repository can use self-healing commands."
)
REVIEW_HINT_TEMPLATE = (
    "@{login} to have me try again with your review in mind, comment "
    "`/retry <what to change>`."
)

# Up to three spaces: four make a Markdown code block. The command must end at
# a space or the line's end, so `/retry-later` or `/helpful` are not commands.
# Any case: a phone capitalises the first letter of a comment.
_COMMAND_RE = re.compile(
    r"^ {0,3}/(retry|ignore|unignore|help)(?=[ \t]|$)[ \t]*(.*)$", re.IGNORECASE
)
_QUOTE_RE = re.compile(r"^\s*>")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")

_permissions: cachetools.TTLCache[tuple[str, str, str], str] = cachetools.TTLCache(
    maxsize=4096, ttl=PERMISSION_CACHE_SECONDS
)


class Verb(enum.Enum):
    RETRY = "retry"
    IGNORE = "ignore"
    UNIGNORE = "unignore"
    HELP = "help"


@dataclass(frozen=True)
class Command:
    verb: Verb
    text: str  # for /retry: the feedback, which may run over several lines


def read_commands(body: str | None) -> list[Command]:
    """Commands are lines that start with one; quoted and fenced lines are not.

    The lines after a /retry, up to the next command, are its feedback.
    """
    commands: list[Command] = []
    feedback: list[str] | None = None
    in_fence = False
    for line in (body or "").splitlines():
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            if feedback is not None:
                feedback.append(line)
            continue
        match = None if in_fence or _QUOTE_RE.match(line) else _COMMAND_RE.match(line)
        if match:
            if feedback is not None:
                commands[-1] = Command(Verb.RETRY, "\n".join(feedback).strip())
            verb = Verb(match.group(1).lower())
            commands.append(Command(verb, match.group(2).strip()))
            feedback = [match.group(2)] if verb is Verb.RETRY else None
        elif feedback is not None:
            feedback.append(line)
    if feedback is not None:
        commands[-1] = Command(Verb.RETRY, "\n".join(feedback).strip())
    return commands


@dataclass(frozen=True)
class Source:
    """Where a command came from, so the job can reply in the right place."""

    kind: str  # "comment", "review" or "line"
    comment_id: int | None
    path: str | None = None
    line: int | None = None
    diff_hunk: str | None = None
    thread_root: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "comment_id": self.comment_id,
            "path": self.path,
            "line": self.line,
            "diff_hunk": self.diff_hunk,
            "thread_root": self.thread_root,
        }


class Outcome(enum.Enum):
    """What became of a body that reached the bot."""

    NOTHING = "nothing"  # no command, not our pull request, or a bot
    REFUSED = "refused"
    QUEUED = "queued"


@router.register("issue_comment", action="created")
async def comment_created(event: gidgethub.sansio.Event, services: Services) -> None:
    # Only "created": an edit must not turn an approved comment into a new
    # instruction, and a deletion is nothing to act on.
    issue = event.data["issue"]
    if not issue.get("pull_request"):
        return
    comment = event.data["comment"]
    await _consider(
        event,
        services,
        issue["number"],
        comment["body"],
        Source("comment", comment["id"]),
    )


@router.register("pull_request_review", action="submitted")
async def review_submitted(event: gidgethub.sansio.Event, services: Services) -> None:
    review = event.data["review"]
    number = event.data["pull_request"]["number"]
    outcome = await _consider(
        event, services, number, review.get("body"), Source("review", None)
    )
    if outcome is Outcome.NOTHING and (
        (review.get("state") or "").lower() == "changes_requested"
    ):
        # A request for changes alone does nothing; say how to ask for a retry.
        await _review_hint(event, services, number, review["id"])


@router.register("pull_request_review_comment", action="created")
async def line_comment_created(
    event: gidgethub.sansio.Event, services: Services
) -> None:
    comment = event.data["comment"]
    source = Source(
        "line",
        comment["id"],
        path=comment.get("path"),
        line=comment.get("line") or comment.get("original_line"),
        diff_hunk=comment.get("diff_hunk"),
        # Replies go to the thread's first comment: GitHub refuses a reply
        # to a reply.
        thread_root=comment.get("in_reply_to_id") or comment["id"],
    )
    await _consider(
        event, services, event.data["pull_request"]["number"], comment["body"], source
    )


def is_bot(user: dict[str, Any]) -> bool:
    """Bots, this app included, never command: that way no two bots can loop."""
    return user.get("type") == "Bot" or str(user.get("login", "")).endswith("[bot]")


async def _consider(
    event: gidgethub.sansio.Event,
    services: Services,
    number: int,
    body: str | None,
    source: Source,
) -> Outcome:
    """Queue the commands in a body if its sender may give them."""
    sender = event.data["sender"]
    full_name = event.data["repository"]["full_name"]
    commands = read_commands(body)
    if not commands or is_bot(sender):
        return Outcome.NOTHING
    fix = services.store.fix_by_pr(full_name, number)
    if fix is None:
        return Outcome.NOTHING  # not a pull request this app opened
    installation_id = event.data["installation"]["id"]
    gh = await services.github.installation_client(installation_id)
    fields = {"repo": full_name, "pr": number, "login": sender["login"]}
    if not await may_command(gh, full_name, sender["login"]):
        logger.info("command.refused", extra=fields)
        if services.store.first_notice(full_name, number, sender["login"]):
            body = REFUSED_TEMPLATE.format(login=sender["login"])
            await reply(gh, full_name, number, source, body)
        return Outcome.REFUSED
    for command in commands:
        services.queue.put(
            COMMAND_JOB,
            {
                "installation_id": installation_id,
                "repo": full_name,
                "pr": number,
                "verb": command.verb.value,
                "text": command.text,
                "login": sender["login"],
                "source": source.to_dict(),
            },
            lane=fix_lane(fix.fingerprint),
        )
        logger.info("command.queued", extra={**fields, "verb": command.verb.value})
    # Queued first: a failed reaction must neither lose the command nor, by
    # failing the delivery, have GitHub's redelivery queue it twice.
    await _acknowledge(gh, full_name, source)
    return Outcome.QUEUED


async def may_command(
    gh: GitHubClient, full_name: str, login: str, *, fresh: bool = False
) -> bool:
    """Write, maintain or admin, from the collaborator-permission API.

    Answers are cached briefly; `fresh` asks again, for the moment a command
    is carried out, so access withdrawn meanwhile counts.
    """
    # Keyed by the API's address too, so a GitHub Enterprise Server with the
    # same repository name never shares an answer with github.com.
    key = (gh.base_url, full_name, login)
    permission = None if fresh else _permissions.get(key)
    if permission is None:
        try:
            data = await gh.getitem(
                "/repos/{+full_name}/collaborators/{username}/permission",
                {"full_name": full_name, "username": login},
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code != 404:  # not a collaborator at all
                raise
            data = {"permission": "none"}
        role = data.get("role_name") or ""
        permission = role if role in ALLOWED_PERMISSIONS else data["permission"]
        _permissions[key] = permission
    return permission in ALLOWED_PERMISSIONS


async def _acknowledge(gh: GitHubClient, full_name: str, source: Source) -> None:
    """React with 👀 at once; a review body has no reactions API."""
    if source.comment_id is None:
        return
    route = "issues" if source.kind == "comment" else "pulls"
    try:
        await gh.post(
            f"/repos/{{+full_name}}/{route}/comments/{{comment_id}}/reactions",
            {"full_name": full_name, "comment_id": source.comment_id},
            data={"content": "eyes"},
        )
    except gidgethub.GitHubException as exc:
        # The reply still comes when the job ends; the reaction is a courtesy.
        logger.warning(
            "command.acknowledge_failed", extra={"repo": full_name, "error": str(exc)}
        )


async def _review_hint(
    event: gidgethub.sansio.Event, services: Services, number: int, review_id: int
) -> None:
    """Tell a reviewer who requested changes how to ask for a retry, once."""
    sender = event.data["sender"]
    full_name = event.data["repository"]["full_name"]
    if is_bot(sender) or services.store.fix_by_pr(full_name, number) is None:
        return
    gh = await services.github.installation_client(event.data["installation"]["id"])
    # Only people who could act on the hint get it.
    if not await may_command(gh, full_name, sender["login"]):
        return
    # A /retry in one of the review's line comments already asked for one.
    async for comment in gh.getiter(
        "/repos/{+full_name}/pulls/{number}/comments",
        {"full_name": full_name, "number": number},
    ):
        if comment.get("pull_request_review_id") == review_id and any(
            c.verb is Verb.RETRY for c in read_commands(comment.get("body"))
        ):
            return
    if not services.store.first_notice(
        full_name, number, f"review-hint:{sender['login']}"
    ):
        return
    body = REVIEW_HINT_TEMPLATE.format(login=sender["login"])
    await reply(gh, full_name, number, Source("review", None), body)


async def reply(
    gh: GitHubClient, full_name: str, number: int, source: Source, body: str
) -> None:
    """Answer in the thread for a line comment, else on the conversation."""
    if source.kind == "line" and source.thread_root is not None:
        await gh.post(
            "/repos/{+full_name}/pulls/{number}/comments/{comment_id}/replies",
            {
                "full_name": full_name,
                "number": number,
                "comment_id": source.thread_root,
            },
            data={"body": body},
        )
        return
    await gh.post(
        "/repos/{+full_name}/issues/{number}/comments",
        {"full_name": full_name, "number": number},
        data={"body": body},
    )


def attempts_left(services: Services, fix: Fix, max_attempts: int) -> int:
    """The first fix counts as one attempt; each /retry as another."""
    if fix.pr_number is None:
        return max_attempts
    used = 1 + services.store.retries_on(fix.repo, fix.pr_number)
    return max(0, max_attempts - used)
