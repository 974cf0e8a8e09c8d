"""SEARCH/REPLACE edits: read them from an answer, check them, apply them.

Blocks name a file and quote the lines to change; they never carry line
numbers. A block applies by exact match first, then by a match that forgives
trailing whitespace and a uniform shift of indentation, with the replacement
re-indented by the same shift. Anything else is an `EditProblem` the repair
round can show the model, with the nearest real lines.
"""

from __future__ import annotations

import ast
import difflib
import posixpath
import re
from dataclasses import dataclass, field

_SEARCH_RE = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
_DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
_REPLACE_RE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
_FENCE_RE = re.compile(r"^\s*```")
_SECTION_RE = re.compile(
    r"^#{1,3}\s*(title|root cause|explanation|edits)\s*:?\s*$", re.I
)
_PATH_DECORATION_RE = re.compile(
    r"^(?:#+\s*)?(?:file(?:name)?\s*:\s*)?[`*'\"]*|[`*'\":]*$", re.I
)
# Files a fix may never touch, whatever the model says: CI runs them with the
# repository's secrets.
_CI_PATHS = (
    ".github/workflows/",
    ".github/actions/",
    ".circleci/",
    ".buildkite/",
    ".gitlab/",
)
_CI_FILES = {
    ".gitlab-ci.yml",
    ".travis.yml",
    "Jenkinsfile",
    "azure-pipelines.yml",
    "bitbucket-pipelines.yml",
    "buildspec.yml",
    "appveyor.yml",
    ".github/self-healing.yml",
    ".github/CODEOWNERS",
    "CODEOWNERS",
}


@dataclass(frozen=True)
class Block:
    path: str
    search: str
    replace: str


@dataclass
class Answer:
    """A model answer: its prose sections and its edit blocks."""

    title: str = ""
    root_cause: str = ""
    explanation: str = ""
    blocks: list[Block] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EditProblem:
    path: str
    message: str
    # The real lines nearest to what the block searched for, for a repair.
    nearest: str | None = None


@dataclass
class EditResult:
    files: dict[str, str]
    problems: list[EditProblem]

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.files)


def read_answer(text: str) -> Answer:
    """Split an answer into sections and blocks; never raises."""
    answer = Answer()
    sections: dict[str, list[str]] = {}
    current: str | None = None
    lines = text.splitlines()
    i = 0
    last_path = ""
    while i < len(lines):
        line = lines[i]
        heading = _SECTION_RE.match(line.strip())
        if heading:
            current = heading.group(1).lower()
            sections.setdefault(current, [])
            i += 1
            continue
        if _SEARCH_RE.match(line):
            path = _path_before(lines, i) or last_path
            block, i = _read_block(lines, i + 1, path)
            if isinstance(block, str):
                answer.problems.append(block)
            else:
                answer.blocks.append(block)
                last_path = block.path
            continue
        if current is not None and current != "edits":
            sections[current].append(line)
        i += 1
    answer.title = " ".join(" ".join(sections.get("title", [])).split())[:120]
    answer.root_cause = "\n".join(sections.get("root cause", [])).strip()
    answer.explanation = "\n".join(sections.get("explanation", [])).strip()
    return answer


def _path_before(lines: list[str], index: int) -> str:
    for back in range(index - 1, max(index - 4, -1), -1):
        candidate = lines[back].strip()
        if not candidate or _FENCE_RE.match(candidate):
            continue
        if _REPLACE_RE.match(candidate):
            return ""
        candidate = _PATH_DECORATION_RE.sub("", candidate).strip()
        if candidate and " " not in candidate:
            return candidate
        return ""
    return ""


def _read_block(lines: list[str], start: int, path: str) -> tuple[Block | str, int]:
    search: list[str] = []
    replace: list[str] = []
    target = search
    i = start
    while i < len(lines):
        line = lines[i]
        if _DIVIDER_RE.match(line) and target is search:
            target = replace
        elif _REPLACE_RE.match(line):
            if target is search:
                return "a block has no ======= divider", i + 1
            if not path:
                return "a block names no file on the line before it", i + 1
            return Block(path, _joined(search), _joined(replace)), i + 1
        else:
            target.append(line)
        i += 1
    return f"a block for {path or 'an unnamed file'} is not closed", i


def _joined(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def refusal(path: str, *, may_edit) -> str | None:  # type: ignore[no-untyped-def]
    """Why a path may not be edited, or None when it may."""
    normalized = posixpath.normpath(path.replace("\\", "/"))
    if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path):
        return "is outside the repository"
    if normalized.startswith("../") or normalized == ".." or normalized == ".":
        return "is outside the repository"
    if normalized != path.lstrip("./") and normalized != path:
        return "is not a plain repository path"
    if normalized.startswith(_CI_PATHS) or normalized in _CI_FILES:
        return "is CI or repository policy, which fixes never touch"
    if normalized.startswith(".git/"):
        return "is inside .git"
    if not may_edit(normalized):
        return "is outside the config's `paths`"
    return None


def apply_blocks(
    blocks: list[Block],
    files: dict[str, str | None],
    *,
    may_edit,  # type: ignore[no-untyped-def]
    max_files: int,
) -> EditResult:
    """Apply blocks to file texts (None = the file does not exist).

    Returns the changed files in full, and every problem met. Changed Python
    files must still parse.
    """
    changed: dict[str, str] = {}
    problems: list[EditProblem] = []
    touched = {b.path for b in blocks}
    if len(touched) > max_files:
        problems.append(
            EditProblem(
                "", f"edits touch {len(touched)} files; at most {max_files} allowed"
            )
        )
        return EditResult({}, problems)
    for block in blocks:
        why = refusal(block.path, may_edit=may_edit)
        if why:
            problems.append(EditProblem(block.path, f"{block.path} {why}"))
            continue
        current = changed.get(block.path, files.get(block.path))
        if current is not None and "\x00" in current:
            problems.append(EditProblem(block.path, f"{block.path} is binary"))
            continue
        if current is None:
            if block.search.strip():
                problems.append(
                    EditProblem(block.path, f"{block.path} does not exist in the repo")
                )
            else:
                changed[block.path] = block.replace
            continue
        new_text, problem = apply_block(current, block)
        if problem:
            problems.append(problem)
        else:
            changed[block.path] = new_text
    for path, text in changed.items():
        if path.endswith(".py"):
            try:
                ast.parse(text, filename=path)
            except SyntaxError as exc:
                problems.append(
                    EditProblem(
                        path,
                        f"{path} no longer parses after the edit: {exc.msg} "
                        f"(line {exc.lineno})",
                        nearest=_around(text.splitlines(), (exc.lineno or 1) - 1, 1),
                    )
                )
    changed = {p: t for p, t in changed.items() if t != files.get(p)}
    return EditResult(changed, problems)


def apply_block(text: str, block: Block) -> tuple[str, EditProblem | None]:
    """Replace the block's SEARCH lines in text, exactly or by a tolerant match."""
    if not block.search.strip():
        return text, EditProblem(block.path, f"a block for {block.path} has no SEARCH")
    count = text.count(block.search)
    if count == 1:
        return text.replace(block.search, block.replace, 1), None
    lines = text.splitlines(keepends=True)
    wanted = block.search.splitlines()
    if count > 1:
        return text, EditProblem(
            block.path,
            f"the SEARCH for {block.path} matches {count} places; quote more lines",
            nearest=_nearest(lines, wanted),
        )
    matches = _tolerant_matches(lines, wanted)
    if len(matches) == 1:
        start, shift = matches[0]
        replacement = _reindent(block.replace.splitlines(keepends=True), shift)
        end = start + len(wanted)
        new_lines = lines[:start] + replacement + lines[end:]
        return "".join(new_lines), None
    if len(matches) > 1:
        return text, EditProblem(
            block.path,
            f"the SEARCH for {block.path} matches {len(matches)} places; "
            "quote more lines",
            nearest=_nearest(lines, wanted),
        )
    return text, EditProblem(
        block.path,
        f"the SEARCH for {block.path} matches no lines of the file",
        nearest=_nearest(lines, wanted),
    )


def _tolerant_matches(lines: list[str], wanted: list[str]) -> list[tuple[int, str]]:
    """Windows whose lines equal `wanted` up to one indentation shift.

    Returns (start index, shift) pairs; the shift is what to put before (or,
    as "-N", take from) each replacement line.
    """
    # Blank lines at the ends of SEARCH are noise the model adds.
    while wanted and not wanted[0].strip():
        wanted = wanted[1:]
    while wanted and not wanted[-1].strip():
        wanted = wanted[:-1]
    if not wanted:
        return []
    stripped = [w.strip() for w in wanted]
    first = next(i for i, w in enumerate(wanted) if w.strip())
    matches = []
    for start in range(len(lines) - len(wanted) + 1):
        window = lines[start : start + len(wanted)]
        if [w.strip() for w in window] == stripped:
            # The real lines are replaced whole, so inner indentation slips
            # in SEARCH do no harm; the first line sets the shift.
            matches.append(
                (start, _shift(_indent(wanted[first]), _indent(window[first])))
            )
    return matches


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _shift(given: str, real: str) -> str:
    if real.startswith(given):
        return real[len(given) :]
    return f"-{len(given) - len(real)}" if given.startswith(real) else real


def _reindent(lines: list[str], shift: str) -> list[str]:
    if not shift:
        return lines
    if shift.startswith("-") and shift[1:].isdigit():
        n = int(shift[1:])
        return [
            line[min(n, len(_indent(line))) :] if line.strip() else line
            for line in lines
        ]
    return [shift + line if line.strip() else line for line in lines]


def _nearest(lines: list[str], wanted: list[str]) -> str:
    """The window of the file most like the SEARCH text, with some margin."""
    if not lines or not wanted:
        return ""
    size = len(wanted)
    target = "\n".join(w.strip() for w in wanted)
    best, best_ratio = 0, -1.0
    for start in range(max(1, len(lines) - size + 1)):
        window = "\n".join(line.strip() for line in lines[start : start + size])
        ratio = difflib.SequenceMatcher(None, window, target, autojunk=False).ratio()
        if ratio > best_ratio:
            best, best_ratio = start, ratio
    return _around([line.rstrip("\n") for line in lines], best, size)


def _around(lines: list[str], start: int, size: int, margin: int = 3) -> str:
    lo = max(0, start - margin)
    hi = min(len(lines), start + size + margin)
    return "\n".join(line.rstrip("\n") for line in lines[lo:hi]) + "\n"


def unified_diff(before: dict[str, str | None], after: dict[str, str]) -> str:
    """A git-style diff of changed files, for PR bodies and the demo."""
    parts = []
    for path in sorted(after):
        old = before.get(path) or ""
        parts.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                after[path].splitlines(keepends=True),
                fromfile=f"a/{path}",
                tofile=f"b/{path}",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in parts)
