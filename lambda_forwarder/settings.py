"""Settings read from the environment, and the constants they work with."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import SettingMissingError

BOT_URL_ENV = "BOT_URL"
KEY_ID_ENV = "FORWARDER_KEY_ID"
SECRET_ENV = "FORWARDER_SECRET"
SECRET_ARN_ENV = "FORWARDER_SECRET_ARN"

# The bot refuses bodies above this size; the one place the limit lives here.
MAX_BODY_BYTES = 1_000_000
TRACEBACKS_PATH = "/api/tracebacks"

# One read per container: Secrets Manager costs money and ~50 ms a call.
_secret_cache: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Settings:
    """What one invocation needs to sign and deliver."""

    bot_url: str
    key_id: str
    secret: str

    @property
    def endpoint(self) -> str:
        return self.bot_url.rstrip("/") + TRACEBACKS_PATH


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings, fetching the secret once per container."""
    env = os.environ if environ is None else environ
    return Settings(
        bot_url=_required(env, BOT_URL_ENV),
        key_id=_required(env, KEY_ID_ENV),
        secret=get_secret(env),
    )


def get_secret(environ: Mapping[str, str] | None = None) -> str:
    """Return the signing secret from Secrets Manager or, failing an ARN, the env."""
    env = os.environ if environ is None else environ
    arn = env.get(SECRET_ARN_ENV, "").strip()
    cache_key = arn or SECRET_ENV
    cached = _secret_cache.get(cache_key)
    if cached is not None:
        return cached
    if arn:
        secret = _read_secrets_manager(arn)
    else:
        secret = env.get(SECRET_ENV, "")
        if not secret:
            raise SettingMissingError(
                SECRET_ENV, f"set it, or set {SECRET_ARN_ENV} to a Secrets Manager ARN"
            )
    _secret_cache[cache_key] = secret
    return secret


def clear_secret_cache() -> None:
    """Forget the cached secret, so the next invocation reads it again."""
    _secret_cache.clear()


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingMissingError(name)
    return value


def _read_secrets_manager(arn: str) -> str:
    # boto3 costs ~300 ms to import; only this path pays for it.
    import boto3

    response = boto3.client("secretsmanager").get_secret_value(SecretId=arn)
    value = response.get("SecretString") or ""
    # A secret made in the console is a JSON object; accept {"secret": "..."}.
    if value.startswith("{"):
        value = _secret_from_json(value)
    if not value:
        raise SettingMissingError(
            SECRET_ARN_ENV, f"secret {arn} has no SecretString (or no 'secret' key)"
        )
    return value


def _secret_from_json(value: str) -> str:
    try:
        parsed = json.loads(value)
    except ValueError:
        # Not JSON after all: a raw secret that happens to start with "{".
        return value
    return str(parsed.get("secret") or "") if isinstance(parsed, dict) else value
