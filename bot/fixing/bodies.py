"""Pull request, issue and reply bodies (no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

# The body carries the occurrence tally between these markers, so a new
# occurrence can edit it in place without touching what a human wrote.
OCCURRENCES_START = "<!-- self-heal:occurrences -->"
OCCURRENCES_END = "<!-- /self-heal:occurrences -->"
FINGERPRINT_MARK_TEMPLATE = "<!-- self-heal:fingerprint {fingerprint} -->"
_BACKTICKS_RE = re.compile(r"`+")
_MENTION_RE = re.compile(r"@(?=[A-Za-z0-9])")
_IMAGE_RE = re.compile(r"!\[")
# `[ref]: https://...` makes `![x][ref]` an image even without `![...](`.
_LINK_DEFINITION_RE = re.compile(r"^( {0,3})\[(?=[^\]\n]*\]:)", re.MULTILINE)
# https://docs.github.com/en/issues/tracking-your-work-with-issues/linking-a-pull-request-to-an-issue
_CLOSING_RE = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?\s+(?:[\w.-]+/[\w.-]+)?#",
    re.IGNORECASE,
)

PULL_TEMPLATE = """\
{regression}**Error:** {exc_type}: {message}

### Root cause
{root_cause}

### What this changes
{explanation}

<details>
<summary>Traceback (secrets redacted)</summary>

```
{traceback}
```
</details>

{occurrences}

**Model:** {model} · {tokens} tokens{cost}

### Commands
{commands}
{fingerprint_mark}
"""

OCCURRENCES_TEMPLATE = """\
{start}
**Occurrences:** {count} · first seen {first_seen} · last seen {last_seen} \
· log group `{log_group}`
{end}"""

COMMANDS_TEXT = """\
Reviewers with write access can steer this pull request with a comment, a \
review or a line comment starting with:
- `/retry <feedback>`: try again with your feedback and push a new commit
- `/ignore`: close this pull request and stop fixing this error here
- `/help`: list the commands and the attempts left"""

ISSUE_TEMPLATE = """\
**Error:** {exc_type}: {message}

No pull request was opened: {reason}

### Analysis
{analysis}

<details>
<summary>Traceback (secrets redacted)</summary>

```
{traceback}
```
</details>

{occurrences}
{fingerprint_mark}
"""

REGRESSION_TEMPLATE = (
    "**Regression:** this error was fixed by #{previous} and has come back.\n\n"
)


@dataclass(frozen=True)
class Tally:
    count: int
    first_seen: int | None
    last_seen: int | None
    log_group: str


def pull_title(title: str, exc_type: str | None) -> str:
    title = " ".join(title.split())
    if not title:
        title = f"Fix {exc_type or 'a production error'}"
    return title[:100]


def pull_body(
    *,
    exc_type: str | None,
    message: str | None,
    root_cause: str,
    explanation: str,
    traceback_text: str,
    tally: Tally,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost: float | None,
    fingerprint: str,
    previous_pr: int | None = None,
) -> str:
    return PULL_TEMPLATE.format(
        regression=REGRESSION_TEMPLATE.format(previous=previous_pr)
        if previous_pr
        else "",
        exc_type=_one_line(exc_type or "unknown error"),
        message=_one_line(message),
        root_cause=_prose(root_cause) or "_The model gave no root cause._",
        explanation=_prose(explanation) or "_The model gave no explanation._",
        traceback=_fence_safe(traceback_text),
        occurrences=occurrences_section(tally),
        model=model,
        tokens=f"{input_tokens:,} in / {output_tokens:,} out",
        cost=f" · about ${cost:.4f}" if cost is not None else "",
        commands=COMMANDS_TEXT,
        fingerprint_mark=FINGERPRINT_MARK_TEMPLATE.format(fingerprint=fingerprint),
    )


def issue_body(
    *,
    exc_type: str | None,
    message: str | None,
    reason: str,
    analysis: str,
    traceback_text: str,
    tally: Tally,
    fingerprint: str,
) -> str:
    return ISSUE_TEMPLATE.format(
        exc_type=_one_line(exc_type or "unknown error"),
        message=_one_line(message),
        reason=_prose(reason),
        analysis=_prose(analysis) or "_None._",
        traceback=_fence_safe(traceback_text),
        occurrences=occurrences_section(tally),
        fingerprint_mark=FINGERPRINT_MARK_TEMPLATE.format(fingerprint=fingerprint),
    )


def occurrences_section(tally: Tally) -> str:
    return OCCURRENCES_TEMPLATE.format(
        start=OCCURRENCES_START,
        end=OCCURRENCES_END,
        count=tally.count,
        first_seen=_when(tally.first_seen),
        last_seen=_when(tally.last_seen),
        log_group=tally.log_group,
    )


def with_tally(body: str, tally: Tally) -> str | None:
    """The body with its occurrence section replaced; None if it has none.

    The section is found from its last end marker back to the start marker
    before it, so a marker quoted in log text cannot widen what is replaced.
    """
    end = body.rfind(OCCURRENCES_END)
    start = body.rfind(OCCURRENCES_START, 0, end) if end >= 0 else -1
    if start < 0:
        return None
    tail = end + len(OCCURRENCES_END)
    return body[:start] + occurrences_section(tally) + body[tail:]


def _when(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "unknown"
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _one_line(message: str | None) -> str:
    """The message as a code span: log text must not render as Markdown or
    HTML (tracking images, links, @mentions that notify people)."""
    text = " ".join((message or "").split())
    if not text:
        return "_(no message)_"
    if len(text) > 300:
        text = text[:300] + "…"
    ticks = "`" * (max((len(r) for r in _BACKTICKS_RE.findall(text)), default=0) + 1)
    # CommonMark strips one space each side, so a backtick at an end needs one.
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{_inert(text)}{pad}{ticks}"


def _fence_safe(text: str) -> str:
    # A traceback holding ``` would end the code block early.
    return _inert(text.replace("```", "`\u200b``"))


def _prose(text: str) -> str:
    """Model prose renders as Markdown, but fetches, pings and closes nothing.

    The model read log text, which may have asked it to show an image whose
    URL carries private code away (GitHub's image proxy fetches it when the PR
    is viewed), to mention people, or to close other issues on merge.
    """
    text = _inert(text).replace("<", "&lt;")
    text = _IMAGE_RE.sub("!\u200b[", text)
    text = _LINK_DEFINITION_RE.sub(lambda m: m.group(1) + "\\[", text)
    text = _CLOSING_RE.sub(lambda m: m.group(0)[:-1] + "\u200b#", text)
    return _MENTION_RE.sub("@\u200b", text)


def _inert(text: str) -> str:
    """Break HTML comment openers, so log text can never fake our markers."""
    return text.replace("<!--", "<\u200b!--")
