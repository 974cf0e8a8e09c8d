"""One Settings object, read from the environment when the app is built."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

APP_ID_ENV = "SELF_HEAL_APP_ID"
PRIVATE_KEY_ENV = "SELF_HEAL_PRIVATE_KEY"
WEBHOOK_SECRET_ENV = "SELF_HEAL_WEBHOOK_SECRET"
FORWARDER_KEY_ID_ENV = "SELF_HEAL_FORWARDER_KEY_ID"
FORWARDER_SECRET_ENV = "SELF_HEAL_FORWARDER_SECRET"
MODEL_ID_ENV = "SELF_HEAL_MODEL_ID"
BEDROCK_REGION_ENV = "SELF_HEAL_BEDROCK_REGION"
BEDROCK_ENDPOINT_ENV = "SELF_HEAL_BEDROCK_ENDPOINT_URL"
DATABASE_ENV = "SELF_HEAL_DATABASE"
GITHUB_API_URL_ENV = "SELF_HEAL_GITHUB_API_URL"
GITHUB_URL_ENV = "SELF_HEAL_GITHUB_URL"
CREDENTIALS_FILE_ENV = "SELF_HEAL_CREDENTIALS_FILE"
PUBLIC_URL_ENV = "SELF_HEAL_PUBLIC_URL"
PROMPT_TOKEN_BUDGET_ENV = "SELF_HEAL_PROMPT_TOKEN_BUDGET"
PRICES_ENV = "SELF_HEAL_MODEL_PRICES"
AWS_REGION_ENV = "AWS_REGION"

DEFAULT_MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_GITHUB_URL = "https://github.com"
DEFAULT_DATABASE = "self-heal.sqlite3"
DEFAULT_CREDENTIALS_FILE = "self-heal-credentials.json"
# US dollars per 1,000 tokens (input, output); a setting overrides or adds.
DEFAULT_PRICES = {
    "anthropic.claude-3-5-sonnet-20240620-v1:0": (0.003, 0.015),
    "anthropic.claude-3-5-haiku-20241022-v1:0": (0.0008, 0.004),
}


class SettingsError(Exception):
    """A setting is missing or unreadable; the message is one line naming it."""


@dataclass(frozen=True)
class Settings:
    app_id: str
    private_key: str
    webhook_secret: str
    forwarder_key_id: str | None = None
    forwarder_secret: str | None = None
    model_id: str = DEFAULT_MODEL_ID
    bedrock_region: str = "us-east-1"
    bedrock_endpoint_url: str | None = None
    database: str = DEFAULT_DATABASE
    github_api_url: str = DEFAULT_GITHUB_API_URL
    github_url: str = DEFAULT_GITHUB_URL
    public_url: str | None = None
    prompt_token_budget: int = 12_000
    prices: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: dict(DEFAULT_PRICES)
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; raise SettingsError naming the first missing one.

        The credentials file written by the set-up flow fills in the app id,
        key and webhook secret when the environment does not give them.
        """
        env = dict(os.environ if environ is None else environ)
        stored = _read_credentials(
            env.get(CREDENTIALS_FILE_ENV, DEFAULT_CREDENTIALS_FILE)
        )
        for env_name, key in (
            (APP_ID_ENV, "id"),
            (PRIVATE_KEY_ENV, "pem"),
            (WEBHOOK_SECRET_ENV, "webhook_secret"),
        ):
            if not env.get(env_name) and stored.get(key):
                env[env_name] = str(stored[key])
        return cls(
            app_id=_required(env, APP_ID_ENV, "the GitHub App's id"),
            private_key=_private_key(
                _required(env, PRIVATE_KEY_ENV, "the app's private key (PEM or path)")
            ),
            webhook_secret=_required(env, WEBHOOK_SECRET_ENV, "the webhook secret"),
            forwarder_key_id=env.get(FORWARDER_KEY_ID_ENV) or None,
            forwarder_secret=env.get(FORWARDER_SECRET_ENV) or None,
            model_id=env.get(MODEL_ID_ENV) or DEFAULT_MODEL_ID,
            bedrock_region=(
                env.get(BEDROCK_REGION_ENV) or env.get(AWS_REGION_ENV) or "us-east-1"
            ),
            bedrock_endpoint_url=env.get(BEDROCK_ENDPOINT_ENV) or None,
            database=env.get(DATABASE_ENV) or DEFAULT_DATABASE,
            github_api_url=(
                env.get(GITHUB_API_URL_ENV) or DEFAULT_GITHUB_API_URL
            ).rstrip("/"),
            github_url=(env.get(GITHUB_URL_ENV) or DEFAULT_GITHUB_URL).rstrip("/"),
            public_url=env.get(PUBLIC_URL_ENV) or None,
            prompt_token_budget=_int(env, PROMPT_TOKEN_BUDGET_ENV, 12_000),
            prices=_prices(env.get(PRICES_ENV)),
        )

    def price_of(self, model_id: str) -> tuple[float, float] | None:
        return self.prices.get(model_id)


def _required(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"missing setting {name}: {what}")
    return value


def _private_key(value: str) -> str:
    if "-----BEGIN" in value:
        return value
    path = Path(value).expanduser()
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(
            f"unreadable setting {PRIVATE_KEY_ENV}: {path}: {exc.strerror}"
        ) from exc
    if "-----BEGIN" not in text:
        raise SettingsError(f"unreadable setting {PRIVATE_KEY_ENV}: {path} is no PEM")
    return text


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"bad setting {name}: {raw!r} is not a number") from exc


def _prices(raw: str | None) -> dict[str, tuple[float, float]]:
    prices = dict(DEFAULT_PRICES)
    if not raw:
        return prices
    try:
        given = json.loads(raw)
        for model, pair in given.items():
            prices[str(model)] = (float(pair[0]), float(pair[1]))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise SettingsError(
            f'bad setting {PRICES_ENV}: expected {{"model": [in, out]}} per 1k tokens'
        ) from exc
    return prices


def _read_credentials(path: str) -> dict[str, object]:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SettingsError(f"unreadable credentials file {path}: {exc}") from exc
