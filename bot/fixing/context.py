"""What code the model sees: the failing functions, not whole files.

For each of the innermost in-app frames that maps to a file, the model gets
the module's imports and the enclosing function or class (found with `ast`),
with the failing line named; small files go whole. Names called on the
failing line that the loaded files define are added, so the model sees the
callee it may need to change. A token budget caps the lot.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

# Files up to this many lines go whole: cheaper than a second round trip.
WHOLE_FILE_LINES = 200
CHARS_PER_TOKEN = 4
_CALLED_NAME_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


@dataclass
class Snippet:
    """A run of lines of one file, 1-based and inclusive."""

    path: str
    start: int
    end: int
    text: str
    total_lines: int
    failing_lines: list[int] = field(default_factory=list)
    reason: str = "frame"

    @property
    def whole(self) -> bool:
        return self.start == 1 and self.end == self.total_lines


@dataclass(frozen=True)
class FrameSite:
    """An in-app frame mapped to a file of the repository."""

    path: str
    line: int | None
    function: str | None


def build_context(
    sites: list[FrameSite], files: dict[str, str], *, token_budget: int
) -> list[Snippet]:
    """Snippets for the frame sites, innermost first, within the budget.

    `sites` come innermost first; `files` holds the text of every mapped file.
    """
    snippets: dict[str, list[Snippet]] = {}
    budget = token_budget * CHARS_PER_TOKEN
    used = 0
    for site in sites:
        text = files.get(site.path)
        if text is None:
            continue
        for snippet in _snippets_for(site, text):
            if _covered(snippets.get(site.path, []), snippet, site.line):
                continue
            cost = len(snippet.text)
            if used + cost > budget and used:
                return _ordered(snippets)
            snippets.setdefault(site.path, []).append(snippet)
            used += cost
    # Callees defined in the loaded files, when the budget still allows.
    for site in sites:
        text = files.get(site.path)
        if text is None or site.line is None:
            continue
        for snippet in _callee_snippets(site, text, files):
            if _covered(snippets.get(snippet.path, []), snippet, None):
                continue
            if used + len(snippet.text) > budget:
                continue
            snippets.setdefault(snippet.path, []).append(snippet)
            used += len(snippet.text)
    return _ordered(snippets)


def _ordered(snippets: dict[str, list[Snippet]]) -> list[Snippet]:
    result = []
    for items in snippets.values():
        result.extend(sorted(items, key=lambda s: s.start))
    return result


def _covered(existing: list[Snippet], snippet: Snippet, line: int | None) -> bool:
    for have in existing:
        if have.start <= snippet.start and snippet.end <= have.end:
            if line is not None and line not in have.failing_lines:
                have.failing_lines.append(line)
                have.failing_lines.sort()
            return True
    return False


def _snippets_for(site: FrameSite, text: str) -> list[Snippet]:
    lines = text.splitlines()
    total = len(lines)
    failing = [site.line] if site.line and 1 <= site.line <= total else []
    if total <= WHOLE_FILE_LINES:
        return [Snippet(site.path, 1, max(total, 1), text, total, failing)]
    tree = _parse(text)
    result = []
    imports = _import_span(tree) if tree else None
    if imports:
        start, end = imports
        result.append(_cut(site.path, lines, start, end, [], "imports"))
    span = _enclosing(tree, site.line) if tree and site.line else None
    if span is None and site.line:
        # Unparsable or module-level: a window around the line.
        span = (max(1, site.line - 20), min(total, site.line + 20))
    if span is not None:
        result.append(_cut(site.path, lines, span[0], span[1], failing, "frame"))
    return result


def _callee_snippets(
    site: FrameSite, text: str, files: dict[str, str]
) -> list[Snippet]:
    lines = text.splitlines()
    if not site.line or site.line > len(lines):
        return []
    names = set(_CALLED_NAME_RE.findall(lines[site.line - 1]))
    names.discard(site.function or "")
    result = []
    for path, other in files.items():
        tree = _parse(other)
        if tree is None:
            continue
        other_lines = other.splitlines()
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name in names
            ):
                start = _first_line(node)
                end = node.end_lineno or start
                result.append(_cut(path, other_lines, start, end, [], "callee"))
    return result


def _cut(
    path: str, lines: list[str], start: int, end: int, failing: list[int], why: str
) -> Snippet:
    body = "\n".join(lines[start - 1 : end]) + "\n"
    return Snippet(path, start, end, body, len(lines), list(failing), why)


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _import_span(tree: ast.Module) -> tuple[int, int] | None:
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    if not imports:
        return None
    return imports[0].lineno, max(n.end_lineno or n.lineno for n in imports)


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    lines = [d.lineno for d in decorators] + [node.lineno]  # type: ignore[attr-defined]
    return min(lines)


def _enclosing(tree: ast.Module, line: int) -> tuple[int, int] | None:
    """The innermost function holding the line, else its class, else None."""
    best: ast.AST | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        start, end = _first_line(node), node.end_lineno or node.lineno
        if start <= line <= end and (
            best is None or start >= _first_line(best)  # deeper = later start
        ):
            best = node
    if best is None:
        return None
    return _first_line(best), best.end_lineno or best.lineno  # type: ignore[attr-defined]
