"""Payloads and log formats -> log events -> tracebacks.

Knows the CloudWatch Logs shapes (subscription events, decoded payloads, the
JSON that `aws logs filter-log-events` / `get-log-events` print) and how Lambda
marks requests, so tracebacks split one line per event can be put back
together without mixing up interleaved requests.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .parse import LAMBDA_PREFIX_RE, REQUEST_ID_RE, Found, link, scan

__all__ = [
    "LogEvent",
    "UnreadableInput",
    "decode_subscription_event",
    "find_in_events",
    "read_log_input",
]

# Lambda JSON log records carry the request id as a field.
_JSON_RID_RE = re.compile(r'"(?:requestId|aws_request_id)"\s*:\s*"(?P<rid>[^"]+)"')


class UnreadableInput(ValueError):
    """The input is none of the log shapes this package reads."""


@dataclass
class LogEvent:
    """One CloudWatch Logs event (or one line of a plain log)."""

    message: str
    timestamp: int | None = None
    log_stream: str | None = None
    id: str | None = None


def find_in_events(events: Iterable[LogEvent]) -> list[Found]:
    """Tracebacks in a batch of events of one or more streams.

    Events of one stream are read in order as consecutive lines, so a
    traceback logged one line per event is read whole. Where a request id marks
    events (Lambda's `[LEVEL]\\t<time>\\t<request id>\\t` prefix, START/END/REPORT
    lines, a JSON `requestId`), each request's events are read apart; an event
    without a mark belongs to the request last marked in its stream.
    """
    groups: dict[tuple[str | None, str | None], list[tuple[LogEvent, str, int]]] = {}
    current: dict[str | None, str | None] = {}
    for order, event in enumerate(events):
        message = event.message if isinstance(event.message, str) else ""
        rid = None
        prefix = LAMBDA_PREFIX_RE.match(message)
        if prefix:
            rid = prefix["rid"]
            message = message[prefix.end() :]
        else:
            marked = REQUEST_ID_RE.search(message[:200]) or _JSON_RID_RE.search(message)
            if marked:
                rid = marked["rid"]
        if rid is not None:
            current[event.log_stream] = rid
        key = (event.log_stream, current.get(event.log_stream))
        groups.setdefault(key, []).append((event, message, order))
    found: list[tuple[int, Found]] = []
    for (_stream, rid), items in groups.items():
        offsets = []
        parts = []
        pos = 0
        for _event, message, _order in items:
            message = message.rstrip("\n")
            offsets.append(pos)
            parts.append(message)
            pos += len(message) + 1
        for hit in scan("\n".join(parts)):
            index = max(bisect.bisect_right(offsets, hit.start) - 1, 0)
            event, _message, order = items[index]
            found.append(
                (
                    order,
                    Found(
                        hit.traceback,
                        hit.text,
                        event.timestamp,
                        event.log_stream,
                        hit.request_id or rid,
                    ),
                )
            )
    found.sort(key=lambda pair: pair[0])
    return link([f for _, f in found])


def decode_subscription_event(event: dict) -> dict:
    """The decoded payload of a `{"awslogs": {"data": ...}}` Lambda event."""
    try:
        data = event["awslogs"]["data"]
    except (KeyError, TypeError) as exc:
        raise UnreadableInput("not a CloudWatch Logs subscription event") from exc
    if not isinstance(data, str | bytes):
        raise UnreadableInput("awslogs.data must be a base64 string")
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise UnreadableInput("awslogs.data is not base64") from exc
    # MAX_WBITS | 32 reads gzip and zlib alike (Powertools does the same); the
    # Lambda docs print an uncompressed example, so plain JSON is let through.
    with contextlib.suppress(zlib.error):
        raw = zlib.decompress(raw, zlib.MAX_WBITS | 32)
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableInput("awslogs.data does not hold JSON") from exc
    if not isinstance(payload, dict):
        raise UnreadableInput("awslogs.data does not hold a JSON object")
    return payload


def read_log_input(data: bytes) -> list[tuple[str | None, list[LogEvent]]]:
    """(log group, events) pairs from any supported input.

    Accepts plain log text, a subscription event, a decoded subscription
    payload, or the JSON printed by `aws logs filter-log-events` or
    `get-log-events`. Raises `UnreadableInput` for anything else.
    """
    if data[:2] == b"\x1f\x8b":
        try:
            data = zlib.decompress(data, zlib.MAX_WBITS | 32)
        except zlib.error as exc:
            raise UnreadableInput("broken gzip data") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableInput("input is neither UTF-8 text nor gzip") from exc
    if "\x00" in text:
        raise UnreadableInput("input looks binary (NUL bytes)")
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            doc = json.loads(stripped)
        except ValueError:
            doc = None  # JSON-lines logs and cut JSON: read as text
        if doc is not None:
            pairs = _from_json(doc)
            if pairs is not None:
                return pairs
    lines = text.splitlines()
    return [(None, [LogEvent(message=line) for line in lines])]


def _from_json(doc: Any) -> list[tuple[str | None, list[LogEvent]]] | None:
    if isinstance(doc, list):
        pairs: list[tuple[str | None, list[LogEvent]]] = []
        for item in doc:
            found = _from_json(item) if isinstance(item, dict) else None
            if found is None:
                return None
            pairs.extend(found)
        return pairs
    if not isinstance(doc, dict):
        return None
    if "awslogs" in doc:
        return _from_payload(decode_subscription_event(doc))
    if "logEvents" in doc:
        return _from_payload(doc)
    events = doc.get("events")
    if isinstance(events, list):
        return [(None, [_event(e, None) for e in events if isinstance(e, dict)])]
    return None


def _from_payload(payload: dict) -> list[tuple[str | None, list[LogEvent]]]:
    if payload.get("messageType") == "CONTROL_MESSAGE":
        return []
    raw_events = payload.get("logEvents")
    if not isinstance(raw_events, list):
        raise UnreadableInput("logEvents must be a list")
    group = (
        payload.get("logGroup") if isinstance(payload.get("logGroup"), str) else None
    )
    stream = payload.get("logStream")
    stream = stream if isinstance(stream, str) else None
    events = [_event(e, stream) for e in raw_events if isinstance(e, dict)]
    return [(group, events)]


def _event(raw: dict, stream: str | None) -> LogEvent:
    message = raw.get("message")
    timestamp = raw.get("timestamp")
    name = raw.get("logStreamName", stream)
    event_id = raw.get("id", raw.get("eventId"))
    return LogEvent(
        message=message if isinstance(message, str) else "",
        timestamp=timestamp if isinstance(timestamp, int) else None,
        log_stream=name if isinstance(name, str) else None,
        id=str(event_id) if event_id is not None else None,
    )
