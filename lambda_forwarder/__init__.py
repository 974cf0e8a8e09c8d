"""CloudWatch Logs subscription forwarder: tracebacks out, signed POSTs to the bot."""

from .delivery import DEFAULT_POLICY, Batch, Occurrence, RetryPolicy
from .errors import (
    BotRejectedError,
    DeliveryError,
    ForwarderError,
    OccurrenceTooLargeError,
    SettingMissingError,
)
from .settings import (
    BOT_URL_ENV,
    KEY_ID_ENV,
    MAX_BODY_BYTES,
    SECRET_ARN_ENV,
    SECRET_ENV,
    Settings,
    load_settings,
)

__all__ = [
    "BOT_URL_ENV",
    "DEFAULT_POLICY",
    "KEY_ID_ENV",
    "MAX_BODY_BYTES",
    "SECRET_ARN_ENV",
    "SECRET_ENV",
    "Batch",
    "BotRejectedError",
    "DeliveryError",
    "ForwarderError",
    "Occurrence",
    "OccurrenceTooLargeError",
    "RetryPolicy",
    "SettingMissingError",
    "Settings",
    "load_settings",
]
