"""Read Python tracebacks out of logs. Standard library only: ships in the forwarder."""

from .fingerprint import fingerprint, normalize_message, short_fingerprint
from .inapp import is_in_app
from .model import ExceptionBlock, Frame, Location, Relation, Traceback
from .parse import Found, find_tracebacks
from .redact import redact, redact_traceback
from .render import render
from .sources import (
    LogEvent,
    UnreadableInput,
    decode_subscription_event,
    find_in_events,
    find_in_subscription,
    read_log_input,
)

__all__ = [
    "ExceptionBlock",
    "Found",
    "Frame",
    "Location",
    "LogEvent",
    "Relation",
    "Traceback",
    "UnreadableInput",
    "decode_subscription_event",
    "find_in_events",
    "find_in_subscription",
    "find_tracebacks",
    "fingerprint",
    "is_in_app",
    "normalize_message",
    "read_log_input",
    "redact",
    "redact_traceback",
    "render",
    "short_fingerprint",
]
