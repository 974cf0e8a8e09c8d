"""Exceptions raised by the forwarder."""

from __future__ import annotations


class ForwarderError(Exception):
    """Base class for every error the forwarder raises on purpose."""


class SettingMissingError(ForwarderError):
    """A required setting (environment variable or secret) is missing or empty."""

    def __init__(self, name: str, hint: str = "") -> None:
        self.name = name
        message = f"required setting {name} is not set"
        super().__init__(f"{message}: {hint}" if hint else message)


class DeliveryError(ForwarderError):
    """A batch could not be delivered; raised so Lambda retries and keeps it."""

    def __init__(
        self, message: str, *, attempts: int = 0, status: int | None = None
    ) -> None:
        self.attempts = attempts
        self.status = status
        super().__init__(message)


class BotRejectedError(DeliveryError):
    """The bot answered a 4xx other than 429: misconfiguration, not retried here."""


class OccurrenceTooLargeError(DeliveryError):
    """One occurrence cannot be shrunk under the bot's body limit."""
