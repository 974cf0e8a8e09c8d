"""What code the model sees: the failing functions, not whole files.

For each of the innermost in-app frames that maps to a file, the model gets
the enclosing function (or class, or top-level statement) found with `ast`,
with the failing line named, plus the module's imports, the short module
constants the function reads and, for a method, its class line; small files
go whole. Definitions of names called on a failing line (functions, classes,
`self.method(...)` and `obj.method(...)` when the class is in the loaded
files) are added so the model sees the callee it may need to change. A token
budget caps the lot, in priority order; the innermost frame's function is
never dropped.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field

# Files up to this many lines go whole: the model sees module constants and
# helpers, and no repair round is spent on a missing one. Measured on the
# case repositories (bench/context.py), prompts against whole files are 0.28
# at 0 or 120 lines, 0.40 at 200, 0.45 at 300: 200 lines (about 2k tokens)
# buys whole small modules and keeps well under half.
WHOLE_FILE_LINES = 200
# A function longer than this is cut to a window around the failing line,
# with its signature kept.
LONG_FUNCTION_LINES = 150
WINDOW_BEFORE = 60
WINDOW_AFTER = 25
# Lines around a failing line when no enclosing definition is found.
MODULE_WINDOW = 20
CHARS_PER_TOKEN = 4
# Module-level assignments a failing function reads are shown when at most
# this long: a regex or a mapping, not a data table.
MAX_CONSTANT_LINES = 12
# Snippets of one file this close together are sent as one.
MERGE_GAP = 2
# Callees defined this many times or more are too common a name to guess.
MAX_CALLEE_DEFINITIONS = 2
_CALLED_NAME_RE = re.compile(r"(?:(\w+)\s*\.\s*)?([A-Za-z_]\w*)\s*\(")
_BUILTINS = frozenset(dir(builtins))
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


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

    `sites` come innermost first; `files` holds the text of every mapped file
    (and may hold more files, whose definitions callees are looked up in).
    The innermost site's function goes in even when it alone is over budget.
    """
    sources = {path: _Source(path, text) for path, text in files.items()}
    chosen: dict[str, list[Snippet]] = {}
    budget = token_budget * CHARS_PER_TOKEN
    used = 0

    def take(snippet: Snippet, *, must: bool = False) -> bool:
        nonlocal used
        have = chosen.setdefault(snippet.path, [])
        if _covered(have, snippet):
            return True
        if not must and used + len(snippet.text) > budget:
            return False
        have.append(snippet)
        used += len(snippet.text)
        return True

    # Frames' functions first, innermost first; then what frames them
    # (imports, class line, signature); then callees named on failing lines.
    live = [s for s in sites if s.path in sources]
    extras: list[Snippet] = []
    for n, site in enumerate(live):
        source = sources[site.path]
        whole = source.whole_file(site)
        if whole is not None and take(whole, must=n == 0 and used == 0):
            continue
        main, *more = source.frame_snippets(site)
        if take(main, must=n == 0):
            extras.extend(more)
    for extra in extras:
        take(extra)
    for site in live:
        for snippet in _callee_snippets(site, sources):
            take(snippet)
    return _ordered(chosen, sources)


class _Source:
    """One file's text, lines and (when it parses) syntax tree."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.lines = text.splitlines()
        try:
            self.tree: ast.Module | None = ast.parse(text)
        except (SyntaxError, ValueError):
            self.tree = None
        self._parents: dict[ast.AST, ast.AST] = {}
        if self.tree is not None:
            for node in ast.walk(self.tree):
                for child in ast.iter_child_nodes(node):
                    self._parents[child] = node

    def failing(self, site: FrameSite) -> list[int]:
        ok = site.line is not None and 1 <= site.line <= len(self.lines)
        return [site.line] if ok and site.line else []

    def whole_file(self, site: FrameSite) -> Snippet | None:
        if len(self.lines) > WHOLE_FILE_LINES:
            return None
        end = max(len(self.lines), 1)
        return self.cut(1, end, self.failing(site), "frame")

    def frame_snippets(self, site: FrameSite) -> list[Snippet]:
        """The enclosing definition first, then its imports and class line."""
        failing = self.failing(site)
        line = failing[0] if failing else None
        node = self.enclosing(line) if line else None
        if node is None:
            if line is None:
                # No line to show: the file's head is all that can be said.
                end = min(len(self.lines), 2 * MODULE_WINDOW)
                return [self.cut(1, max(end, 1), [], "frame")]
            start, end = self.statement_span(line)
            result = [self.cut(start, end, failing, "frame")]
        else:
            result = self.definition(node, failing, line)
        main = result[0]
        imports = self.import_span()
        if imports and imports[1] < main.start:
            result.append(self.cut(*imports, [], "imports"))
        if node is not None:
            owner = self._parents.get(node)
            if isinstance(owner, ast.ClassDef):
                result.append(self.cut(*self.header(owner), [], "class"))
            result.extend(self.constants_used(node))
        return result

    def constants_used(self, node: ast.AST) -> list[Snippet]:
        """Short module-level assignments of names the definition reads."""
        if self.tree is None:
            return []
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        result = []
        for statement in self.tree.body:
            if not isinstance(statement, ast.Assign | ast.AnnAssign):
                continue
            targets = (
                statement.targets
                if isinstance(statement, ast.Assign)
                else [statement.target]
            )
            assigned = {t.id for t in targets if isinstance(t, ast.Name)}
            start, end = _span(statement)
            if assigned & names and end - start < MAX_CONSTANT_LINES:
                result.append(self.cut(start, end, [], "constant"))
        return result

    def definition(
        self, node: ast.AST, failing: list[int], line: int | None
    ) -> list[Snippet]:
        """A definition whole, or for a long one a window and its signature."""
        start, end = _span(node)
        if end - start + 1 <= LONG_FUNCTION_LINES or line is None:
            return [self.cut(start, end, failing, "frame")]
        head_end = self.header(node)[1]
        lo = max(head_end + 1, line - WINDOW_BEFORE)
        hi = min(end, line + WINDOW_AFTER)
        return [
            self.cut(lo, hi, failing, "frame"),
            self.cut(start, head_end, [], "signature"),
        ]

    def enclosing(self, line: int) -> ast.AST | None:
        """The innermost function or class holding the line."""
        if self.tree is None:
            return None
        best: ast.AST | None = None
        for node in ast.walk(self.tree):
            if isinstance(node, _DEFINITIONS):
                start, end = _span(node)
                if start <= line <= end and (best is None or start >= _span(best)[0]):
                    best = node
        return best

    def statement_span(self, line: int) -> tuple[int, int]:
        """The top-level statement holding the line, capped to a window."""
        lo, hi = (
            max(1, line - MODULE_WINDOW),
            min(len(self.lines), line + MODULE_WINDOW),
        )
        if self.tree is not None:
            for node in self.tree.body:
                start, end = _span(node)
                if start <= line <= end:
                    return max(start, lo), min(end, hi)
        return lo, hi

    def import_span(self) -> tuple[int, int] | None:
        if self.tree is None:
            return None
        kinds = (ast.Import, ast.ImportFrom)
        imports = [n for n in self.tree.body if isinstance(n, kinds)]
        if not imports:
            return None
        return imports[0].lineno, max(n.end_lineno or n.lineno for n in imports)

    def header(self, node: ast.AST) -> tuple[int, int]:
        """Decorators and signature of a definition, up to its body."""
        start = _span(node)[0]
        body = getattr(node, "body", [])
        first = body[0] if body else node
        # A docstring belongs to the header: it says what the code is for.
        if (
            body
            and isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
            and len(body) > 1
        ):
            return start, (first.end_lineno or first.lineno)
        return start, max(start, first.lineno - 1)

    def cut(self, start: int, end: int, failing: list[int], why: str) -> Snippet:
        body = "\n".join(self.lines[start - 1 : end]) + "\n"
        return Snippet(self.path, start, end, body, len(self.lines), list(failing), why)

    def calls_on(self, line: int) -> list[tuple[str | None, str]]:
        """(receiver, name) of each call in the statement holding the line."""
        if self.tree is None:
            text = self.lines[line - 1] if line <= len(self.lines) else ""
            return [
                (recv or None, name) for recv, name in _CALLED_NAME_RE.findall(text)
            ]
        statement = None
        for node in ast.walk(self.tree):
            if isinstance(node, ast.stmt) and not isinstance(node, _COMPOUND):
                start, end = node.lineno, node.end_lineno or node.lineno
                if start <= line <= end and (
                    statement is None or start >= statement.lineno
                ):
                    statement = node
        if statement is None:
            return []
        calls = []
        for node in ast.walk(statement):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name):
                calls.append((None, func.id))
            elif isinstance(func, ast.Attribute):
                receiver = func.value.id if isinstance(func.value, ast.Name) else "?"
                calls.append((receiver, func.attr))
        return calls

    def definitions(self) -> list[tuple[ast.AST, ast.ClassDef | None]]:
        """Every function and class, with the class a method belongs to."""
        if self.tree is None:
            return []
        result = []
        for node in ast.walk(self.tree):
            if isinstance(node, _DEFINITIONS):
                owner = self._parents.get(node)
                result.append(
                    (node, owner if isinstance(owner, ast.ClassDef) else None)
                )
        return result


# Statements whose span covers other statements: a call "on" the failing line
# is in the simple statement there, not anywhere in an enclosing `if` or `for`.
_COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.Match,
)


def _callee_snippets(site: FrameSite, sources: dict[str, _Source]) -> list[Snippet]:
    source = sources[site.path]
    if not source.failing(site):
        return []
    assert site.line is not None
    own_class = _class_of(source, site.line)
    result = []
    for receiver, name in source.calls_on(site.line):
        if name == site.function or (receiver is None and name in _BUILTINS):
            continue
        found = _find_definitions(receiver, name, own_class, source, sources)
        if not found or len(found) > MAX_CALLEE_DEFINITIONS:
            continue
        for where, node in found:
            target = node
            if isinstance(node, ast.ClassDef):
                # Calling a class runs its __init__; that is the code to see.
                init = _method(node, "__init__")
                target = init if init is not None else node
            start, end = _span(target)
            if end - start + 1 > LONG_FUNCTION_LINES:
                start, end = where.header(target)
            result.append(where.cut(start, end, [], "callee"))
    return result


def _find_definitions(
    receiver: str | None,
    name: str,
    own_class: ast.ClassDef | None,
    source: _Source,
    sources: dict[str, _Source],
) -> list[tuple[_Source, ast.AST]]:
    """Where the repository's loaded files define what a call names."""
    if receiver in ("self", "cls") and own_class is not None:
        method = _method(own_class, name)
        if method is not None:
            return [(source, method)]
        # Inherited: look in the base classes the loaded files define.
        bases = {b.id for b in own_class.bases if isinstance(b, ast.Name)}
        return [
            (where, node)
            for where in sources.values()
            for node, owner in where.definitions()
            if owner is not None and owner.name in bases and node.name == name
        ]
    found = []
    for where in sources.values():
        for node, owner in where.definitions():
            if node.name != name:  # type: ignore[attr-defined]
                continue
            top = owner is None and _is_top_level(where, node)
            # `name(...)` calls a module-level function or class;
            # `obj.name(...)` a method, or a function of an imported module.
            if top or (receiver is not None and owner is not None):
                found.append((where, node))
    # A name the failing file defines itself shadows same-named ones elsewhere.
    local = [(w, n) for w, n in found if w is source]
    return local if receiver is None and local else found


def _is_top_level(source: _Source, node: ast.AST) -> bool:
    return source.tree is not None and node in source.tree.body


def _class_of(source: _Source, line: int) -> ast.ClassDef | None:
    for node, owner in source.definitions():
        if owner is not None and isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef
        ):
            start, end = _span(node)
            if start <= line <= end:
                return owner
    return None


def _method(cls: ast.ClassDef, name: str) -> ast.AST | None:
    for node in cls.body:
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name == name
        ):
            return node
    return None


def _span(node: ast.AST) -> tuple[int, int]:
    decorators = getattr(node, "decorator_list", [])
    lineno: int = node.lineno  # type: ignore[attr-defined]
    start = min([d.lineno for d in decorators] + [lineno])
    return start, getattr(node, "end_lineno", None) or lineno


def _covered(existing: list[Snippet], snippet: Snippet) -> bool:
    """Whether a chosen snippet holds this one; failing lines move over."""
    for have in existing:
        if have.start <= snippet.start and snippet.end <= have.end:
            for line in snippet.failing_lines:
                if line not in have.failing_lines:
                    have.failing_lines.append(line)
                    have.failing_lines.sort()
            return True
    return False


def _ordered(
    snippets: dict[str, list[Snippet]], sources: dict[str, _Source]
) -> list[Snippet]:
    """Files in frame order, each file's snippets top to bottom, merged.

    Snippets that overlap or stand at most `MERGE_GAP` lines apart become one:
    a few shared lines cost less than a second header.
    """
    result = []
    for path, items in snippets.items():
        lines = sources[path].lines
        merged: list[Snippet] = []
        for snippet in sorted(items, key=lambda s: (s.start, -s.end)):
            last = merged[-1] if merged else None
            if last is None or snippet.start > last.end + 1 + MERGE_GAP:
                merged.append(snippet)
            elif not _covered([last], snippet):
                tail = lines[last.end : snippet.end]
                last.text += "".join(line + "\n" for line in tail)
                last.end = snippet.end
                last.failing_lines = sorted(
                    {*last.failing_lines, *snippet.failing_lines}
                )
                if "frame" in (last.reason, snippet.reason):
                    last.reason = "frame"
        result.extend(merged)
    return result
