"""One Settings object, read from the environment when the app is built.

The rule for start-up: when none of the app id, private key and webhook secret
is given (by the environment or the credentials file), the app is not
registered yet and `load_settings` returns `SetupSettings`, so `serve` offers
only the set-up pages. When some are given and one is missing, that is a
mistake, and start-up stops with a one-line error naming it.
"""

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
MODEL_PROVIDER_ENV = "SELF_HEAL_MODEL_PROVIDER"
OPENAI_BASE_URL_ENV = "SELF_HEAL_OPENAI_BASE_URL"
OPENAI_API_KEY_ENV = "SELF_HEAL_OPENAI_API_KEY"
MODEL_PROVIDERS = ("bedrock", "openai")
AWS_REGION_ENV = "AWS_REGION"

DEFAULT_MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_GITHUB_URL = "https://github.com"
# GitHub Enterprise Server serves its REST API under the web host.
ENTERPRISE_API_PATH = "/api/v3"
DEFAULT_DATABASE = "self-heal.sqlite3"
DEFAULT_CREDENTIALS_FILE = "self-heal-credentials.json"
# US dollars per 1,000 tokens (input, output); a setting overrides or adds.
DEFAULT_PRICES = {
    "anthropic.claude-3-5-sonnet-20240620-v1:0": (0.003, 0.015),
    "anthropic.claude-3-5-haiku-20241022-v1:0": (0.0008, 0.004),
}


class SettingsError(Exception):
    """A setting is missing or unreadable; the message is one line naming it."""


# (environment variable, key in the credentials file, what it is)
_APP_CREDENTIALS = (
    (APP_ID_ENV, "id", "the GitHub App's id"),
    (PRIVATE_KEY_ENV, "pem", "the app's private key (PEM or path)"),
    (WEBHOOK_SECRET_ENV, "webhook_secret", "the webhook secret"),
)


@dataclass(frozen=True)
class SetupSettings:
    """What the set-up pages need before the app is registered."""

    github_url: str = DEFAULT_GITHUB_URL
    github_api_url: str = DEFAULT_GITHUB_API_URL
    public_url: str | None = None
    credentials_file: str = DEFAULT_CREDENTIALS_FILE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SetupSettings:
        env = os.environ if environ is None else environ
        github_url = (env.get(GITHUB_URL_ENV) or DEFAULT_GITHUB_URL).rstrip("/")
        api_url = env.get(GITHUB_API_URL_ENV) or (
            DEFAULT_GITHUB_API_URL
            if github_url == DEFAULT_GITHUB_URL
            else github_url + ENTERPRISE_API_PATH
        )
        public_url = (env.get(PUBLIC_URL_ENV) or "").strip().rstrip("/") or None
        if public_url and not public_url.startswith(("https://", "http://")):
            raise SettingsError(
                f"bad setting {PUBLIC_URL_ENV}: {public_url!r} needs https://"
            )
        return cls(
            github_url=github_url,
            github_api_url=api_url.rstrip("/"),
            public_url=public_url,
            credentials_file=env.get(CREDENTIALS_FILE_ENV) or DEFAULT_CREDENTIALS_FILE,
        )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings | SetupSettings:
    """Settings for a registered app, or SetupSettings when none is registered.

    Raises SettingsError naming the first missing or bad setting otherwise.
    """
    env = dict(os.environ if environ is None else environ)
    setup = SetupSettings.from_env(env)
    stored = _read_credentials(setup.credentials_file)
    # A variable that is set but empty (a failed secret injection, say) counts
    # as given: it must stop start-up, never open the set-up pages.
    if not any(name in env or stored.get(key) for name, key, _ in _APP_CREDENTIALS):
        return setup
    return Settings.from_env(env)


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
    credentials_file: str = DEFAULT_CREDENTIALS_FILE
    prompt_token_budget: int = 12_000
    prices: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: dict(DEFAULT_PRICES)
    )
    model_provider: str = "bedrock"
    openai_base_url: str | None = None
    openai_api_key: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; raise SettingsError naming the first missing one.

        The credentials file written by the set-up flow fills in the app id,
        key and webhook secret when the environment does not give them.
        """
        env = dict(os.environ if environ is None else environ)
        setup = SetupSettings.from_env(env)
        stored = _read_credentials(setup.credentials_file)
        for env_name, key, _ in _APP_CREDENTIALS:
            if not env.get(env_name, "").strip() and stored.get(key):
                env[env_name] = str(stored[key])
        missing = [
            f"{name} ({what})"
            for name, _, what in _APP_CREDENTIALS
            if not env.get(name, "").strip()
        ]
        if missing:
            raise SettingsError("missing settings: " + "; ".join(missing))
        app_id, private_key, webhook_secret = (
            env[name].strip() for name, _, _ in _APP_CREDENTIALS
        )
        if not app_id.isdigit():
            raise SettingsError(f"bad setting {APP_ID_ENV}: {app_id!r} is not a number")
        return cls(
            app_id=app_id,
            private_key=_private_key(private_key),
            webhook_secret=webhook_secret,
            forwarder_key_id=_paired(env, FORWARDER_KEY_ID_ENV, FORWARDER_SECRET_ENV),
            forwarder_secret=_paired(env, FORWARDER_SECRET_ENV, FORWARDER_KEY_ID_ENV),
            model_id=env.get(MODEL_ID_ENV) or DEFAULT_MODEL_ID,
            bedrock_region=(
                env.get(BEDROCK_REGION_ENV) or env.get(AWS_REGION_ENV) or "us-east-1"
            ),
            bedrock_endpoint_url=env.get(BEDROCK_ENDPOINT_ENV) or None,
            database=env.get(DATABASE_ENV) or DEFAULT_DATABASE,
            github_api_url=setup.github_api_url,
            github_url=setup.github_url,
            public_url=setup.public_url,
            credentials_file=setup.credentials_file,
            prompt_token_budget=_int(env, PROMPT_TOKEN_BUDGET_ENV, 12_000),
            prices=_prices(env.get(PRICES_ENV)),
            **_provider(env),
        )

    def price_of(self, model_id: str) -> tuple[float, float] | None:
        return self.prices.get(model_id)

    @property
    def setup(self) -> SetupSettings:
        return SetupSettings(
            self.github_url, self.github_api_url, self.public_url, self.credentials_file
        )


def _provider(env: Mapping[str, str]) -> dict[str, str | None]:
    """Bedrock by default; an OpenAI-compatible endpoint needs its base URL."""
    provider = (env.get(MODEL_PROVIDER_ENV) or "bedrock").strip().lower()
    if provider not in MODEL_PROVIDERS:
        raise SettingsError(
            f"bad setting {MODEL_PROVIDER_ENV}: {provider!r} is not one of "
            + ", ".join(MODEL_PROVIDERS)
        )
    base_url = None
    if provider == "openai":
        base_url = _required(
            env, OPENAI_BASE_URL_ENV, "the OpenAI-compatible endpoint, like .../v1"
        )
    return {
        "model_provider": provider,
        "openai_base_url": base_url,
        "openai_api_key": env.get(OPENAI_API_KEY_ENV) or None,
    }


def _required(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"missing setting {name}: {what}")
    return value


def _paired(env: Mapping[str, str], name: str, partner: str) -> str | None:
    """A setting that means nothing without its partner, as with a key's secret."""
    value = env.get(name, "").strip()
    if value and not env.get(partner, "").strip():
        raise SettingsError(f"missing setting {partner}: it goes with {name}")
    return value or None


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
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SettingsError(f"unreadable credentials file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"unreadable credentials file {path}: not a JSON object")
    return data
