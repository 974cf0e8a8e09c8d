"""app-manifest.yml: every permission and event is one GitHub knows."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.testing.contracts import (
    github_openapi_document,
    require_contracts,
    webhooks_document,
)

MANIFEST = Path(__file__).resolve().parents[1] / "app-manifest.yml"


def _manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_the_manifest_asks_for_what_the_bot_uses():
    manifest = _manifest()
    assert manifest["public"] is False
    assert manifest["hook_attributes"]["active"] is True
    assert manifest["default_permissions"] == {
        "contents": "write",
        "pull_requests": "write",
        "issues": "write",
        "checks": "write",
        "metadata": "read",
    }
    assert "installation" not in manifest["default_events"]


def test_permissions_and_levels_are_in_the_rest_description():
    require_contracts()
    schema = github_openapi_document()["components"]["schemas"]["app-permissions"]
    known = schema["properties"]
    for name, level in _manifest()["default_permissions"].items():
        assert name in known, f"GitHub has no app permission {name!r}"
        assert level in known[name]["enum"], f"{name}: no level {level!r}"


def test_events_are_app_webhooks_in_the_webhook_description():
    require_contracts()
    app_events = {
        operation["post"]["x-github"]["subcategory"]
        for operation in webhooks_document()["webhooks"].values()
        if "app" in operation["post"]["x-github"].get("supported-webhook-types", [])
    }
    for event in _manifest()["default_events"]:
        assert event in app_events, f"GitHub Apps get no {event!r} event"
