"""Frames to repository paths.

A frame's path is where the code ran (`/var/task/app/handler.py`,
`C:\\srv\\app\\x.py`); the repository has its own layout. The config's
`path_map` is tried first; after it, the longest run of trailing path parts
that names a file in the tree wins. A bare file name counts only when the tree
holds exactly one file of that name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping


class PathIndex:
    """The tree's file paths, indexed by file name for suffix matching."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)
        self._by_name: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for path in self.paths:
            parts = tuple(path.split("/"))
            self._by_name[parts[-1]].append(parts)

    def map(self, runtime_path: str | None, path_map: Mapping[str, str]) -> str | None:
        """The repository path for a frame's file, or None when none fits."""
        if not runtime_path:
            return None
        normalized = runtime_path.replace("\\", "/")
        for prefix, target in sorted(path_map.items(), key=lambda i: -len(i[0])):
            prefix = prefix.replace("\\", "/")
            if normalized.startswith(prefix):
                rest = normalized[len(prefix) :].lstrip("/")
                candidate = f"{target}/{rest}" if target else rest
                if candidate in self.paths:
                    return candidate
        return self._by_suffix(normalized)

    def _by_suffix(self, normalized: str) -> str | None:
        parts = tuple(p for p in normalized.split("/") if p and p != ".")
        if not parts:
            return None
        candidates = self._by_name.get(parts[-1], [])
        # Rank by how many trailing parts agree; among equals, a repo path
        # matched to its root beats one whose leading folders disagree.
        scored = [(_score(parts, c), c) for c in candidates]
        if not scored:
            return None
        top = max(score for score, _ in scored)
        best = [c for score, c in scored if score == top]
        if len(best) != 1:
            return None
        # A bare file name is a guess unless the tree holds exactly one.
        if top[0] == 1 and len(candidates) != 1 and not top[1]:
            return None
        return "/".join(best[0])


def _score(runtime: tuple[str, ...], repo: tuple[str, ...]) -> tuple[int, bool]:
    n = 0
    while n < len(runtime) and n < len(repo) and runtime[-1 - n] == repo[-1 - n]:
        n += 1
    return n, n == len(repo)
