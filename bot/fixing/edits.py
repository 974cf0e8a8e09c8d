"""SEARCH/REPLACE edits: read them from an answer, check them, apply them.

Blocks name a file and quote the lines to change; they never carry line
numbers. A block applies by exact match first, then by matches that forgive
more and more whitespace: trailing spaces, then a uniform shift of
indentation (tabs and spaces counted by width), then any indentation at all.
The replacement is re-indented to the file's own indentation. Anything else
is an `EditProblem` the repair round can show the model, with the nearest
real lines.
"""

from __future__ import annotations

import ast
import difflib
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

_SEARCH_RE = re.compile(r"^\s*<{5,9} ?SEARCH\b.*$")
_DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
_REPLACE_RE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
_FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,})\s*([^\s`]*)\s*(\S*)\s*$")
_SECTION_RE = re.compile(
    r"^#{1,3}\s*(title|root cause|explanation|edits)\s*:?\s*$", re.I
)
# A line that is only a path, however decorated: `### path`, `**path**`,
# `File: path`, "`path`:".
_PATH_LINE_RE = re.compile(
    r"^(?:#+\s*)?(?:[-*]\s+)?(?:\*\*|__)?(?:(?:file(?:name)?|path)\s*:\s*)?"
    r"(?:\*\*|__)?[`'\"]?(?P<path>(?:[A-Za-z]:|~)?[\w./\\@+-]+?)[`'\"]?(?:\*\*|__)?:?"
    r"(?:\*\*|__)?\s*$",
    re.I,
)
# A path quoted inside prose: "In `app/models.py`, change:".
_QUOTED_PATH_RE = re.compile(r"(?:`|\*\*)(?P<path>[\w./\\@+-]+\.\w+)(?:`|\*\*)")
_LOOKS_LIKE_PATH_RE = re.compile(
    r"^(?:[A-Za-z]:|~)?[/\\]?(?:[\w.@+-]+[/\\])*[\w@+-][\w.@+-]*\.[A-Za-z]\w*$"
)
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
# How far above a SEARCH marker a file name may stand.
_PATH_LOOKBACK = 4

# Files a fix may never touch, whatever the model says: CI runs them with the
# repository's secrets, and policy files decide who reviews the fix.
_CI_DIRS = (
    ".github/workflows/",
    ".github/actions/",
    ".circleci/",
    ".buildkite/",
    ".gitlab/",
    ".woodpecker/",
    ".git/",
    # Dev containers and Codespaces run these on open, with the user's tokens.
    ".devcontainer/",
)
_CI_FILES = frozenset(
    {
        ".gitlab-ci.yml",
        ".travis.yml",
        ".drone.yml",
        ".woodpecker.yml",
        "Jenkinsfile",
        "azure-pipelines.yml",
        "bitbucket-pipelines.yml",
        "buildspec.yml",
        "appveyor.yml",
        "cloudbuild.yaml",
        "cloudbuild.yml",
        ".pre-commit-config.yaml",
        ".gitmodules",
        ".github/self-healing.yml",
        ".github/dependabot.yml",
        # Probot Settings rewrites repository settings from this on merge.
        ".github/settings.yml",
        # Task runners that CI workflows commonly call on pull requests.
        "tox.ini",
        "noxfile.py",
        "Makefile",
        "GNUmakefile",
        "justfile",
        "Taskfile.yml",
        ".devcontainer.json",
        ".github/CODEOWNERS",
        "docs/CODEOWNERS",
        "CODEOWNERS",
    }
)
# Extensions whose files are not text the model can quote.
_BINARY_EXTENSIONS = frozenset(
    {
        *(".png", ".jpg", ".jpeg", ".gif", ".ico", ".webp", ".pdf", ".mo"),
        *(".zip", ".gz", ".tgz", ".bz2", ".xz", ".whl", ".egg", ".pkl"),
        *(".so", ".dylib", ".dll", ".exe", ".pyc", ".pyo", ".pyd", ".bin"),
        *(".db", ".sqlite", ".sqlite3", ".parquet", ".npy"),
        *(".woff", ".woff2", ".ttf", ".otf"),
    }
)


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


# Reading


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
            # A path given once serves the blocks that follow it.
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
    """The file named just above a SEARCH marker, or "" when none is."""
    for back in range(index - 1, max(index - 1 - _PATH_LOOKBACK, -1), -1):
        candidate = lines[back].strip()
        if not candidate:
            continue
        if _REPLACE_RE.match(candidate) or _SECTION_RE.match(candidate):
            return ""
        fence = _FENCE_RE.match(candidate)
        if fence:
            # "```python app/x.py" or "```app/x.py" put the path on the fence.
            for word in (fence.group(3), fence.group(2)):
                if _LOOKS_LIKE_PATH_RE.match(word):
                    return _clean_path(word)
            continue
        whole = _PATH_LINE_RE.match(candidate)
        if whole and _LOOKS_LIKE_PATH_RE.match(whole.group("path")):
            return _clean_path(whole.group("path"))
        quoted = _QUOTED_PATH_RE.findall(candidate)
        if quoted:
            return _clean_path(quoted[-1])
        return ""
    return ""


def _clean_path(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


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
        elif _SEARCH_RE.match(line):
            return f"a block for {path or 'an unnamed file'} is not closed", i
        else:
            target.append(line)
        i += 1
    return f"a block for {path or 'an unnamed file'} is not closed", i


def _joined(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


# Checking


def refusal(path: str, *, may_edit: Callable[[str], bool]) -> str | None:
    """Why a path may not be edited, or None when it may."""
    if not path or "\x00" in path:
        return "is not a file path"
    if path.startswith(("/", "\\", "~")) or _DRIVE_RE.match(path):
        return "is outside the repository"
    posix = _clean_path(path)
    normalized = posixpath.normpath(posix)
    parts = posix.split("/")
    if ".." in parts or normalized in (".", ""):
        return "is outside the repository"
    if normalized != posix:
        return "is not a plain repository path"
    # GitHub paths are case-sensitive, but checkouts on macOS and Windows are
    # not: `.GitHub/Workflows/x.yml` must not slip past.
    folded = normalized.lower()
    if folded.startswith(_CI_DIRS) or folded in {f.lower() for f in _CI_FILES}:
        return "is CI or repository policy, which fixes never touch"
    if posixpath.splitext(folded)[1] in _BINARY_EXTENSIONS:
        return "is a binary file"
    if not may_edit(normalized):
        return "is outside the config's `paths`"
    return None


# Applying


def apply_blocks(
    blocks: list[Block],
    files: dict[str, str | None],
    *,
    may_edit: Callable[[str], bool],
    max_files: int,
) -> EditResult:
    """Apply blocks to file texts (None = the file does not exist).

    Blocks apply in order, each to the result of the ones before it. Returns
    the changed files in full, and every problem met. Changed Python files
    must still parse.
    """
    problems: list[EditProblem] = []
    touched = list(dict.fromkeys(_clean_path(b.path) for b in blocks))
    if len(touched) > max_files:
        message = (
            f"edits touch {len(touched)} files ({', '.join(touched)}); "
            f"at most {max_files} allowed"
        )
        return EditResult({}, [EditProblem("", message)])
    changed: dict[str, str] = {}
    for block in blocks:
        path = _clean_path(block.path)
        why = refusal(block.path, may_edit=may_edit)
        if why:
            problems.append(EditProblem(path, f"{path} {why}"))
            continue
        current = changed.get(path, files.get(path))
        if current is not None and "\x00" in current:
            problems.append(EditProblem(path, f"{path} is a binary file"))
            continue
        if current is None:
            if block.search.strip():
                problems.append(
                    EditProblem(path, f"{path} does not exist in the repository")
                )
            else:
                changed[path] = block.replace
            continue
        new_text, problem = apply_block(
            current, Block(path, block.search, block.replace)
        )
        if problem:
            problems.append(problem)
        else:
            changed[path] = new_text
    for path, text in changed.items():
        problem = _syntax_problem(path, files.get(path), text)
        if problem:
            problems.append(problem)
    changed = {p: t for p, t in changed.items() if t != files.get(p)}
    return EditResult(changed, problems)


def _syntax_problem(path: str, before: str | None, after: str) -> EditProblem | None:
    """A problem when an edit leaves a Python file unparsable.

    A file that did not parse before (Python 2 code, say) is only blamed when
    the error sits on a line the edit wrote.
    """
    if not path.endswith((".py", ".pyi")):
        return None
    error = _parse_error(after)
    if error is None:
        return None
    line = error.lineno or 1
    if (
        before is not None
        and _parse_error(before) is not None
        and line not in _written_lines(before, after)
    ):
        return None
    return EditProblem(
        path,
        f"{path} no longer parses after the edit: {error.msg} (line {line})",
        nearest=_around(after.splitlines(), line - 1, 1),
    )


def _parse_error(text: str) -> SyntaxError | None:
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return exc
    except ValueError:  # NUL bytes
        return SyntaxError("source holds a NUL byte")
    return None


def _written_lines(before: str, after: str) -> set[int]:
    """1-based numbers of the lines of `after` that the edit wrote."""
    matcher = difflib.SequenceMatcher(
        None, before.splitlines(), after.splitlines(), autojunk=False
    )
    written: set[int] = set()
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            # A deletion leaves its mark on the line after it.
            written.update(range(j1 + 1, max(j2, j1 + 1) + 1))
    return written


def apply_block(text: str, block: Block) -> tuple[str, EditProblem | None]:
    """Replace the block's SEARCH lines in text, exactly or by a tolerant match.

    The file keeps its line endings (CRLF stays CRLF) and its lack of a final
    newline.
    """
    if not block.search.strip():
        return text, EditProblem(block.path, f"a block for {block.path} has no SEARCH")
    newline = "\r\n" if "\r\n" in text else "\n"
    body = text.replace("\r\n", "\n") if newline == "\r\n" else text
    ends_open = bool(body) and not body.endswith("\n")
    if ends_open:
        body += "\n"
    new_body, problem = _apply(body, block)
    if problem:
        return text, problem
    if ends_open and new_body.endswith("\n"):
        new_body = new_body[:-1]
    if newline == "\r\n":
        new_body = new_body.replace("\n", "\r\n")
    return new_body, None


def _apply(text: str, block: Block) -> tuple[str, EditProblem | None]:
    search = block.search.replace("\r\n", "\n")
    replace = block.replace.replace("\r\n", "\n")
    lines = text.splitlines(keepends=True)
    wanted, replaced = search.splitlines(), replace.splitlines()
    # Blank lines at the ends of SEARCH are noise the model adds; the same
    # blank lines at the ends of REPLACE go with them.
    while wanted and not wanted[0].strip():
        wanted = wanted[1:]
        if replaced and not replaced[0].strip():
            replaced = replaced[1:]
    while wanted and not wanted[-1].strip():
        wanted = wanted[:-1]
        if replaced and not replaced[-1].strip():
            replaced = replaced[:-1]
    for matcher in (_exact_match, _rstrip_match, _shifted_match, _stripped_match):
        starts = [
            s
            for s in range(len(lines) - len(wanted) + 1)
            if matcher(lines[s : s + len(wanted)], wanted)
        ]
        if len(starts) > 1:
            return text, _ambiguous(block.path, starts, lines, len(wanted))
        if starts:
            start = starts[0]
            real = lines[start : start + len(wanted)]
            fitted = _reindent(replaced, wanted, real, lines)
            new_lines = [*lines[:start], *fitted, *lines[start + len(wanted) :]]
            return "".join(new_lines), None
    return text, EditProblem(
        block.path,
        f"the SEARCH for {block.path} matches no lines of the file",
        nearest=_nearest(lines, wanted),
    )


def _ambiguous(
    path: str, starts: list[int], lines: list[str], size: int
) -> EditProblem:
    # Every matching place, so the repair can quote lines that tell them apart.
    shown = "...\n".join(_around(lines, start, size, margin=2) for start in starts)
    return EditProblem(
        path,
        f"the SEARCH for {path} matches {len(starts)} places; quote more lines to "
        "make it unique",
        nearest=shown,
    )


def _exact_match(window: list[str], wanted: list[str]) -> bool:
    return [w.rstrip("\n") for w in window] == wanted


def _rstrip_match(window: list[str], wanted: list[str]) -> bool:
    return [w.rstrip() for w in window] == [w.rstrip() for w in wanted]


def _shifted_match(window: list[str], wanted: list[str]) -> bool:
    """Equal text with every line's indentation off by the same width."""
    if [w.strip() for w in window] != [w.strip() for w in wanted]:
        return False
    shifts = {
        _width(_indent(real)) - _width(_indent(given))
        for real, given in zip(window, wanted, strict=True)
        if given.strip()
    }
    return len(shifts) == 1


def _stripped_match(window: list[str], wanted: list[str]) -> bool:
    # The real lines are replaced whole, so the model's indentation slips in
    # SEARCH do no harm; a second window with the same text is still refused.
    return [w.strip() for w in window] == [w.strip() for w in wanted]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _width(indent: str) -> int:
    return len(indent.expandtabs(4))


def _reindent(
    replace: list[str], wanted: list[str], real: list[str], file_lines: list[str]
) -> list[str]:
    """Replacement lines in the file's indentation, each ending in a newline.

    Indentation the SEARCH lines used maps to the real lines' indentation;
    deeper levels are counted in the model's unit and written in the file's.
    """
    pairs: dict[str, str] = {}
    for given, have in zip(wanted, real, strict=True):
        if given.strip():
            pairs.setdefault(_indent(given), _indent(have))
    if all(k == v for k, v in pairs.items()):
        return [line + "\n" for line in replace]
    first = next(i for i, w in enumerate(wanted) if w.strip())
    base_given = _width(_indent(wanted[first]))
    base_real = _indent(real[first])
    model_unit = _unit([*wanted, *replace])
    file_unit = _file_unit(base_real, file_lines)
    result = []
    for line in replace:
        if not line.strip():
            result.append("\n")
            continue
        indent = _indent(line)
        if indent in pairs:
            result.append(pairs[indent] + line.lstrip(" \t") + "\n")
            continue
        levels, extra = divmod(_width(indent) - base_given, model_unit)
        if levels >= 0:
            new = base_real + file_unit * levels + " " * extra
        else:
            keep = max(0, _width(base_real) + levels * _width(file_unit))
            new = _cut_width(base_real, keep) + " " * extra
        result.append(new + line.lstrip(" \t") + "\n")
    return result


def _unit(lines: list[str]) -> int:
    """The indentation step, in columns, that lines use (4 when unclear)."""
    widths = {_width(_indent(line)) for line in lines if line.strip()}
    steps = sorted({abs(a - b) for a in widths for b in widths if a != b})
    for step in (4, 2, 8, 3):
        if steps and all(s % step == 0 for s in steps):
            return step
    return steps[0] if steps else 4


def _file_unit(base: str, lines: list[str]) -> str:
    """One level of the file's indentation: a tab, or some spaces."""
    tabbed = sum(1 for line in lines if line.startswith("\t"))
    spaced = sum(1 for line in lines if line.startswith(" "))
    if base.startswith("\t") or (not base and tabbed > spaced):
        return "\t"
    return " " * _unit(lines)


def _cut_width(indent: str, width: int) -> str:
    out = ""
    for char in indent:
        if _width(out + char) > width:
            break
        out += char
    return out


def _nearest(lines: list[str], wanted: list[str]) -> str:
    """The window of the file most like the SEARCH text, with some margin."""
    if not lines or not wanted:
        return ""
    size = len(wanted)
    target = "\n".join(w.strip() for w in wanted)
    best, best_ratio = 0, -1.0
    for start in range(max(1, len(lines) - size + 1)):
        window = "\n".join(line.strip() for line in lines[start : start + size])
        matcher = difflib.SequenceMatcher(None, window, target, autojunk=False)
        if matcher.real_quick_ratio() <= best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = start, ratio
    return _around([line.rstrip("\r\n") for line in lines], best, size)


def _around(lines: list[str], start: int, size: int, margin: int = 3) -> str:
    lo = max(0, start - margin)
    hi = min(len(lines), start + size + margin)
    return "\n".join(line.rstrip("\r\n") for line in lines[lo:hi]) + "\n"


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
