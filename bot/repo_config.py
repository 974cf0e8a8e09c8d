"""`.github/self-healing.yml`: read, validate, and merge with org defaults."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

CONFIG_PATH = ".github/self-healing.yml"
DEFAULT_MAX_FILES = 3
DEFAULT_MAX_ATTEMPTS = 5


class ConfigError(Exception):
    """The file does not validate; the message names the key and why."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"{CONFIG_PATH}: {key}: {why}")
        self.key = key
        self.why = why


@dataclass(frozen=True)
class LogGroup:
    name: str
    path_map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RepoConfig:
    log_groups: tuple[LogGroup, ...] = ()
    path_map: dict[str, str] = field(default_factory=dict)
    base_branch: str | None = None
    labels: tuple[str, ...] = ("self-healing",)
    draft: bool = True
    reviewers: tuple[str, ...] = ()
    max_files: int = DEFAULT_MAX_FILES
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    paths: tuple[str, ...] = ("**",)
    ignore_types: tuple[str, ...] = ()
    ignore_messages: tuple[str, ...] = ()
    model: str | None = None
    open_issues: bool = True

    def log_group(self, name: str) -> LogGroup | None:
        for group in self.log_groups:
            if group.name == name:
                return group
        return None

    def path_map_for(self, log_group: str) -> dict[str, str]:
        """The group's own path_map first, then the repo-wide one."""
        group = self.log_group(log_group)
        merged = dict(group.path_map) if group else {}
        for prefix, target in self.path_map.items():
            merged.setdefault(prefix, target)
        return merged

    def may_edit(self, path: str) -> bool:
        return any(_glob_match(path, pattern) for pattern in self.paths)

    def ignores(self, exc_type: str | None, message: str | None) -> bool:
        if exc_type and (
            exc_type in self.ignore_types
            or exc_type.rsplit(".", 1)[-1] in self.ignore_types
        ):
            return True
        return bool(message) and any(
            re.search(pattern, message or "") for pattern in self.ignore_messages
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "log_groups": [
                {"name": g.name, "path_map": dict(g.path_map)} for g in self.log_groups
            ],
            "path_map": dict(self.path_map),
            "base_branch": self.base_branch,
            "labels": list(self.labels),
            "draft": self.draft,
            "reviewers": list(self.reviewers),
            "max_files": self.max_files,
            "max_attempts": self.max_attempts,
            "paths": list(self.paths),
            "ignore": {
                "types": list(self.ignore_types),
                "messages": list(self.ignore_messages),
            },
            "model": self.model,
            "open_issues": self.open_issues,
        }


KNOWN_KEYS = {
    "log_groups",
    "path_map",
    "base_branch",
    "labels",
    "draft",
    "reviewers",
    "max_files",
    "max_attempts",
    "paths",
    "ignore",
    "model",
    "open_issues",
    "_extends",
}
LOG_GROUP_KEYS = {"name", "path_map"}
IGNORE_KEYS = {"types", "messages"}
UNKNOWN_KEY_TEMPLATE = "{path}: {key}: unknown key, ignored"


def load_yaml(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(where, f"not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("(file)", "must be a mapping of keys to values")
    return data


def merge(defaults: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """Org defaults extended by the repo's own keys; the repo wins per key."""
    merged = {k: v for k, v in defaults.items() if k != "_extends"}
    merged.update({k: v for k, v in own.items() if k != "_extends"})
    return merged


def parse_config(data: dict[str, Any]) -> tuple[RepoConfig, list[str]]:
    """Validate a mapping; return the config and warnings for unknown keys."""
    warnings = _unknown(data, KNOWN_KEYS, "")
    ignore = data.get("ignore") or {}
    if isinstance(ignore, list):
        ignore = {"types": ignore}
    if not isinstance(ignore, dict):
        raise ConfigError("ignore", "must hold `types` and `messages` lists")
    warnings += _unknown(ignore, IGNORE_KEYS, "ignore.")
    for n, item in enumerate(data.get("log_groups") or []):
        if isinstance(item, dict):
            warnings += _unknown(item, LOG_GROUP_KEYS, f"log_groups[{n}].")
    for pattern in _strings(ignore, "messages", "ignore.messages"):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError("ignore.messages", f"{pattern!r}: {exc}") from exc
    config = RepoConfig(
        log_groups=tuple(_log_groups(data.get("log_groups"))),
        path_map=_path_map(data.get("path_map"), "path_map"),
        base_branch=_optional_str(data, "base_branch"),
        labels=tuple(_strings(data, "labels", "labels", ["self-healing"])),
        draft=_bool(data, "draft", True),
        reviewers=tuple(_strings(data, "reviewers", "reviewers")),
        max_files=_positive_int(data, "max_files", DEFAULT_MAX_FILES),
        max_attempts=_positive_int(data, "max_attempts", DEFAULT_MAX_ATTEMPTS),
        paths=tuple(_strings(data, "paths", "paths", ["**"])),
        ignore_types=tuple(_strings(ignore, "types", "ignore.types")),
        ignore_messages=tuple(_strings(ignore, "messages", "ignore.messages")),
        model=_optional_str(data, "model"),
        open_issues=_bool(data, "open_issues", True),
    )
    if not config.log_groups:
        warnings.append(
            f"{CONFIG_PATH}: log_groups: empty, so no error reaches this repo"
        )
    return config, warnings


def _unknown(data: dict[str, Any], known: set[str], prefix: str) -> list[str]:
    """Warnings for keys we do not read; a typo should not pass in silence."""
    return [
        UNKNOWN_KEY_TEMPLATE.format(path=CONFIG_PATH, key=f"{prefix}{key}")
        for key in sorted(set(data) - known, key=str)
    ]


def _log_groups(value: Any) -> list[LogGroup]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError("log_groups", "must be a list of names or {name, path_map}")
    groups = []
    for n, item in enumerate(value):
        key = f"log_groups[{n}]"
        if isinstance(item, str) and item.strip():
            groups.append(LogGroup(item.strip()))
        elif (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and item["name"].strip()
        ):
            groups.append(
                LogGroup(
                    item["name"].strip(),
                    _path_map(item.get("path_map"), f"{key}.path_map"),
                )
            )
        else:
            raise ConfigError(key, "must be a log group name or {name, path_map}")
    return groups


def _path_map(value: Any, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(key, "must map runtime path prefixes to repo paths")
    return {k: v.strip("/") for k, v in value.items()}


def _strings(
    data: dict[str, Any], name: str, key: str, default: list[str] | None = None
) -> list[str]:
    value = data.get(name)
    if value is None:
        return list(default or [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, "must be a list of strings")
    return value


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, "must be a non-empty string")
    return value.strip()


def _bool(data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(key, "must be true or false")
    return value


def _positive_int(data: dict[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(key, "must be a whole number of 1 or more")
    return value


def _glob_match(path: str, pattern: str) -> bool:
    if pattern in ("**", "**/*"):
        return True
    if pattern.endswith("/**"):
        return path.startswith(pattern[:-2])
    # `**/` may match no folder at all, as in .gitignore: `**/*.py` takes setup.py.
    if pattern.startswith("**/") and _glob_match(path, pattern[3:]):
        return True
    return fnmatch.fnmatchcase(path, pattern)
