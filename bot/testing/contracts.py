"""Locate and load the published GitHub contract files.

The files come from the npm registry (pinned below) and are fetched by
``scripts/fetch-contracts`` into ``$SELF_HEAL_CONTRACTS_DIR`` or ``<repo>/.contracts``.
This module is imported outside tests too (the demo), so pytest is imported lazily.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openapi_core import OpenAPI

FETCH_SCRIPT = "scripts/fetch-contracts"
REPO_ROOT = Path(__file__).resolve().parents[2]

# Keep in sync with scripts/fetch-contracts.
GITHUB_OPENAPI = "octokit-openapi-23.0.2/api.github.com.json"
WEBHOOKS_OPENAPI = "octokit-openapi-webhooks-12.1.0/api.github.com.json"
WEBHOOK_EXAMPLES = "octokit-webhooks-examples-7.6.1/api.github.com.json"


def contracts_dir() -> Path:
    """The cache directory the fetch script writes to."""
    configured = os.environ.get("SELF_HEAL_CONTRACTS_DIR")
    return Path(configured) if configured else REPO_ROOT / ".contracts"


def github_openapi_path() -> Path:
    """``@octokit/openapi`` ``generated/api.github.com.json`` (REST API, 3.0)."""
    return contracts_dir() / GITHUB_OPENAPI


def webhooks_openapi_path() -> Path:
    """``@octokit/openapi-webhooks`` ``generated/api.github.com.json`` (3.1)."""
    return contracts_dir() / WEBHOOKS_OPENAPI


def webhook_examples_path() -> Path:
    """``@octokit/webhooks-examples`` ``api.github.com/index.json``."""
    return contracts_dir() / WEBHOOK_EXAMPLES


def missing_contracts() -> list[Path]:
    paths = [github_openapi_path(), webhooks_openapi_path(), webhook_examples_path()]
    return [p for p in paths if not p.is_file() or p.stat().st_size == 0]


def contracts_available() -> bool:
    return not missing_contracts()


def _strict() -> bool:
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("SELF_HEAL_REQUIRE_CONTRACTS") == "1"
    )


def require_contracts() -> None:
    """Skip the calling test when contract files are missing; fail in CI instead."""
    missing = missing_contracts()
    if not missing:
        return
    import pytest

    names = ", ".join(str(p) for p in missing)
    reason = (
        f"!!! GitHub contract files missing ({names}). Run ./{FETCH_SCRIPT} "
        "to download them; contract tests are NOT running !!!"
    )
    if _strict():
        pytest.fail(reason + " (required: CI=true or SELF_HEAL_REQUIRE_CONTRACTS=1)")
    pytest.skip(reason)


@functools.cache
def _load_json(path: Path) -> Any:
    with path.open("rb") as fh:
        return json.load(fh)


def github_openapi_document() -> dict[str, Any]:
    """The raw REST description; shared, so callers must not mutate it."""
    return _load_json(github_openapi_path())


def webhooks_document() -> dict[str, Any]:
    """The raw webhooks description; shared, so callers must not mutate it."""
    return _load_json(webhooks_openapi_path())


def webhook_examples() -> list[dict[str, Any]]:
    """Example payloads grouped by event; shared, so callers must not mutate it."""
    return _load_json(webhook_examples_path())


def _allow_null_enums(node: Any) -> None:
    """Let ``nullable`` enums accept null, as GitHub means them.

    GitHub's 3.0 description marks e.g. ``check-run.conclusion`` as ``nullable``
    with an enum lacking ``null``; strict validators then reject the ``null``
    GitHub really sends.
    """
    if isinstance(node, dict):
        enum = node.get("enum")
        if node.get("nullable") is True and isinstance(enum, list) and None not in enum:
            node["enum"] = [*enum, None]
        for value in node.values():
            _allow_null_enums(value)
    elif isinstance(node, list):
        for value in node:
            _allow_null_enums(value)


def _fix_errata(document: dict[str, Any]) -> None:
    """Correct known mistakes in GitHub's description that real answers contradict."""
    _allow_null_enums(document)
    paths = document["paths"]
    # GET /app/installations declares ``account`` as allOf(simple-user, enterprise),
    # which no real account satisfies; the shared ``installation`` schema says anyOf.
    listing = paths["/app/installations"]["get"]["responses"]["200"]
    account = listing["content"]["application/json"]["schema"]["items"]["properties"][
        "account"
    ]
    if "allOf" in account:
        account["anyOf"] = account.pop("allOf")
    # A discriminator cannot select a branch for a JSON array (a directory
    # listing); the branches' ``type`` enums already tell them apart.
    contents = paths["/repos/{owner}/{repo}/contents/{path}"]["get"]["responses"]
    contents["200"]["content"]["application/json"]["schema"].pop("discriminator", None)


@functools.cache
def _github_openapi(path: Path) -> OpenAPI:
    from openapi_core import Config, OpenAPI

    with path.open("rb") as fh:
        # A private copy: the errata fixes must not leak into the shared dict.
        document = json.load(fh)
    _fix_errata(document)
    return OpenAPI.from_dict(
        document,
        # Validating the 13 MB description itself takes minutes, and it is
        # GitHub's to get right, not ours.
        config=Config(spec_validator_cls=None),
    )


def github_openapi() -> OpenAPI | None:
    """The openapi-core object for the REST API, or None without contract files."""
    path = github_openapi_path()
    if not path.is_file():
        return None
    return _github_openapi(path)
