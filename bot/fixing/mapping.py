"""Frames to repository paths.

A frame's path is where the code ran (`/var/task/app/handler.py`,
`C:\\srv\\app\\x.py`, `./sigexport.py`); the repository has its own layout.
The config's `path_map` is tried first; after it, the longest run of
trailing path parts that names a file in the tree wins. A bare file name
counts only when the tree holds exactly one file of that name, or when the
path after a known deploy root (or a relative path) is exactly a repository
path.

Installed packages are another matter: `.../site-packages/mypkg/x.py` is not
in-app by the parser's rule, yet a repository that ships `mypkg` owns it.
`PathIndex.map_installed` maps such a frame only when the whole
package-relative path names a file of a package the repository lays out
(at its root, under `src/`, or beside a `pyproject.toml`/`setup.py`).
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

from ..tracebacks.inapp import DEPLOY_ROOT_RE

_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_INSTALLED_RE = re.compile(r"/(?:site|dist)-packages/", re.IGNORECASE)
# Repository folders that hold other people's code: a frame never maps there.
_FOREIGN_RE = re.compile(
    r"(?:^|/)(?:site-packages|dist-packages|node_modules|_vendor|vendor"
    r"|third_party|\.venv|venv|\.tox)/"
)
_PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
# File names every package has: alone they say nothing about which file.
_GENERIC_NAMES = frozenset({"__init__.py", "__main__.py"})


class PathIndex:
    """The tree's file paths, indexed by file name for suffix matching."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)
        self._folded = {p.lower(): p for p in self.paths}
        self._by_name: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for path in self.paths:
            if _FOREIGN_RE.search(path):
                continue
            parts = tuple(path.split("/"))
            self._by_name[parts[-1].lower()].append(parts)

    def map(self, runtime_path: str | None, path_map: Mapping[str, str]) -> str | None:
        """The repository path for an in-app frame's file, or None when none fits."""
        if not runtime_path:
            return None
        normalized, windows = _normalize(runtime_path)
        mapped = self._by_path_map(normalized, path_map, windows)
        if mapped is not None:
            return mapped
        return self._by_suffix(normalized, windows)

    def map_installed(self, runtime_path: str | None) -> str | None:
        """The repository path for an installed copy of the repository's package.

        Only the path after `site-packages/` counts, whole: `mypkg/x.py` maps
        to `mypkg/x.py` or `src/mypkg/x.py` (or under a folder holding a
        project file), never to a lone `x.py`.
        """
        if not runtime_path:
            return None
        normalized, windows = _normalize(runtime_path)
        found = list(_INSTALLED_RE.finditer(normalized))
        if not found:
            return None
        rest = normalized[found[-1].end() :]
        if "/" not in rest:
            # A single-module distribution (`six.py`): too weak to claim.
            return None
        parts = tuple(rest.split("/"))
        owners = []
        for candidate in self._by_name.get(parts[-1].lower(), []):
            if len(candidate) < len(parts):
                continue
            if not _same(candidate[-len(parts) :], parts, windows):
                continue
            root = "/".join(candidate[: -len(parts)])
            package = f"{root}/{parts[0]}" if root else parts[0]
            if f"{package}/__init__.py" in self.paths and _is_package_root(
                root, self.paths
            ):
                owners.append("/".join(candidate))
        return owners[0] if len(owners) == 1 else None

    def _by_path_map(
        self, normalized: str, path_map: Mapping[str, str], windows: bool
    ) -> str | None:
        # Longest prefix first, so `/var/task/lib/` beats `/var/task/`.
        for prefix, target in sorted(path_map.items(), key=lambda i: -len(i[0])):
            prefix = _normalize(prefix)[0].rstrip("/")
            head = normalized[: len(prefix)]
            if (head.lower() if windows else head) != (
                prefix.lower() if windows else prefix
            ):
                continue
            # A prefix ends at a folder boundary: `/app` is not `/apple/`.
            if prefix and normalized[len(prefix) : len(prefix) + 1] not in ("/", ""):
                continue
            rest = normalized[len(prefix) :].lstrip("/")
            target = target.strip("/")
            candidate = posixpath.normpath(f"{target}/{rest}" if target else rest)
            if candidate in self.paths:
                return candidate
            if windows and candidate.lower() in self._folded:
                return self._folded[candidate.lower()]
        return None

    def _by_suffix(self, normalized: str, windows: bool) -> str | None:
        parts = tuple(p for p in normalized.split("/") if p and p != ".")
        if not parts:
            return None
        candidates = self._by_name.get(parts[-1].lower(), [])
        if not candidates:
            return None
        scored = [(_agreeing(parts, c, windows), c) for c in candidates]
        top = max(score for score, _ in scored)
        best = [c for score, c in scored if score == top]
        if top >= 2 and len(best) == 1:
            return "/".join(best[0])
        if top >= 2:
            # Among equals, a repository path matched to its root is
            # consistent with the frame; one whose leading folders disagree
            # with the frame's is not.
            whole = [c for c in best if len(c) == top]
            if len(whole) == 1:
                return "/".join(whole[0])
        # The module-relative path (after `/var/task/`, or a relative path as
        # run) may be a repository path exactly: `app.py` is the root's app.py.
        relative = _module_relative(normalized)
        if relative is not None:
            exact = [c for c in best if _same(c, tuple(relative.split("/")), windows)]
            if len(exact) == 1:
                return "/".join(exact[0])
        # A bare file name is a guess unless the tree holds exactly one.
        if len(candidates) == 1 and parts[-1].lower() not in _GENERIC_NAMES:
            return "/".join(candidates[0])
        return None


def _normalize(path: str) -> tuple[str, bool]:
    """Forward slashes without `./`, and whether the path came from Windows."""
    windows = "\\" in path or bool(_DRIVE_RE.match(path))
    norm = path.replace("\\", "/")
    while norm.startswith("./"):
        norm = norm[2:]
    return norm, windows


def _module_relative(normalized: str) -> str | None:
    """The path after a known deploy root, or the path itself when relative."""
    if not normalized.startswith("/") and not _DRIVE_RE.match(normalized):
        return normalized
    root = DEPLOY_ROOT_RE.match(normalized)
    return normalized[root.end() :] if root else None


def _same(a: tuple[str, ...], b: tuple[str, ...], windows: bool) -> bool:
    if windows:
        return tuple(p.lower() for p in a) == tuple(p.lower() for p in b)
    return a == b


def _agreeing(runtime: tuple[str, ...], repo: tuple[str, ...], windows: bool) -> int:
    """How many trailing parts agree (case-blind for Windows paths)."""
    n = 0
    while n < len(runtime) and n < len(repo):
        left, right = runtime[-1 - n], repo[-1 - n]
        if left != right and not (windows and left.lower() == right.lower()):
            break
        n += 1
    return n


def _is_package_root(root: str, paths: frozenset[str]) -> bool:
    if root in ("", "src"):
        return True
    return any(f"{root}/{name}" in paths for name in _PROJECT_FILES)
