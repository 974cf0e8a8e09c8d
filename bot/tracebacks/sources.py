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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate
from operator import attrgetter, itemgetter
from typing import Any

from .parse import (
    JSON_TRIGGERS,
    LAMBDA_PREFIX_RE,
    REQUEST_ID_RE,
    TEXT_TRIGGERS,
    Found,
    link,
    scan,
)

__all__ = [
    "LogEvent",
    "UnreadableInput",
    "decode_subscription_event",
    "find_in_events",
    "find_in_subscription",
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
    without a mark belongs to the request last marked in its stream. An event
    holding a whole Lambda error (`[ERROR] Type: msg` and its traceback) ends
    that traceback: Lambda prints it without an exception line, so the next
    event must not be read as one.
    """
    events = events if isinstance(events, list) else list(events)
    found: list[tuple[int, Found]] = []
    if len(set(map(_STREAM, events))) <= 1:
        # One stream (a subscription batch): no per-event bucketing.
        _find_in_stream(_messages(events), lambda j: (j, events[j]), found)
    else:
        streams: dict[str | None, list[tuple[int, LogEvent]]] = {}
        for order, event in enumerate(events):
            streams.setdefault(event.log_stream, []).append((order, event))
        for items in streams.values():
            _find_in_stream(_messages([e for _, e in items]), items.__getitem__, found)
    found.sort(key=lambda pair: pair[0])
    return link([f for _, f in found])


def find_in_subscription(
    raw_events: list[dict[str, Any]], log_stream: str | None
) -> list[Found]:
    """`find_in_events` for a subscription payload's `logEvents` as decoded.

    Builds a `LogEvent` only for the events a traceback is found in: for a
    batch of thousands of events, building them all cost more than the search.
    """

    def event_at(j: int) -> tuple[int, LogEvent]:
        raw = raw_events[j]
        message = raw.get("message")
        timestamp = raw.get("timestamp")
        event = LogEvent(
            message if isinstance(message, str) else "",
            timestamp if isinstance(timestamp, int) else None,
            log_stream,
            raw.get("id"),
        )
        return j, event

    try:
        messages = list(map(_MESSAGE_KEY, raw_events))
    except (KeyError, TypeError):
        messages = [
            raw.get("message") if isinstance(raw, dict) else None for raw in raw_events
        ]
    found: list[tuple[int, Found]] = []
    _find_in_stream(messages, event_at, found)
    found.sort(key=lambda pair: pair[0])
    return link([f for _, f in found])


_STREAM = attrgetter("log_stream")
_MESSAGE = attrgetter("message")
_MESSAGE_KEY = itemgetter("message")


def _messages(events: list[LogEvent]) -> list[str]:
    return list(map(_MESSAGE, events))


# scan() finds nothing in a text without one of its TEXT_TRIGGERS or
# JSON_TRIGGERS, so most batches cost one join and a few `str.find`.
# A request-id mark needs one of these (LAMBDA_PREFIX_RE a tab).
_MARK_HINTS = ("\t", "RequestId: ", '"requestId"', '"aws_request_id"')
# Lines of a request's own events read around an event holding a trigger:
# more than scan() looks back (_BACK_LINES) and on (_FORWARD_LINES), so each
# window reads as the request's whole text would.
_CONTEXT_BACK = 8
_CONTEXT_FORWARD = 32
# A JSON document that is not whole in its event (pretty-printed over several
# events) is looked for this far around it.
_CONTEXT_JSON = 400
_LAMBDA_ERROR_HEAD = "[ERROR] "
_LAMBDA_ERROR_BODY = "\nTraceback (most recent call last):"


def _find_in_stream(
    messages: list[str],
    event_at: Callable[[int], tuple[int, LogEvent]],
    found: list[tuple[int, Found]],
) -> None:
    """Find the tracebacks of one stream's events into `found` (order, Found).

    `event_at(j)` gives the j-th message's (order in the batch, LogEvent).

    Only events holding a trigger, and their request's events around them,
    get per-event work (request ids, prefixes, joins); the rest of a batch
    is one join and a few `str.find` calls.
    """
    try:
        text = "\n".join(messages)
    except TypeError:  # a message that is no string reads as empty
        messages[:] = [m if isinstance(m, str) else "" for m in messages]
        text = "\n".join(messages)
    # A JSON document starts with a brace: one memchr-speed test often
    # spares the four searches for its keys.
    json_positions = _positions(text, JSON_TRIGGERS) if "{" in text else []
    text_positions = _positions(text, TEXT_TRIGGERS)
    if not text_positions and not json_positions:
        return
    indices = _indices(messages, text_positions + json_positions)
    hot = sorted(set(indices))
    if not any(hint in text for hint in _MARK_HINTS):
        # No request ids: the stream is one request, read whole.
        everything = list(range(len(messages)))
        _scan_window(event_at, messages, everything, None, None, found)
        return
    marks = _Marks(messages)
    hot_set = set(hot)
    json_hot = set(indices[len(text_positions) :])
    # Per request: its current window (event indices), scanned when the next
    # trigger of that request lies beyond its reach.
    windows: dict[str | None, list[int]] = {}
    reach: dict[str | None, int] = {}
    for h in hot:
        rid = marks.rid_at(h)
        if h <= reach.get(rid, -1):
            continue  # read with the window before
        wide = h in json_hot and not _whole_json(marks.body(h))
        back = _CONTEXT_JSON if wide else _CONTEXT_BACK
        window = windows.get(rid)
        before: list[int] = []
        lines = 0
        j = h - 1
        floor = window[-1] if window else -1
        while j > floor and lines < back:
            if marks.rid_at(j) == rid:
                before.append(j)
                lines += marks.lines(j)
            j -= 1
        if window is not None and j > floor:
            # Too far from the request's last window: read that one now.
            _scan_window(event_at, messages, window, rid, marks, found)
            window = None
        window = (window or []) + before[::-1]
        forward = _CONTEXT_JSON if wide else _CONTEXT_FORWARD
        lines = 0
        j = h
        while j < len(messages) and lines < forward:
            if marks.rid_at(j) == rid:
                window.append(j)
                if j in hot_set:
                    lines = 0
                    if j in json_hot and not _whole_json(marks.body(j)):
                        forward = max(forward, _CONTEXT_JSON)
                else:
                    lines += marks.lines(j)
            j += 1
        windows[rid] = window
        reach[rid] = window[-1]
    for rid, window in windows.items():
        _scan_window(event_at, messages, window, rid, marks, found)


def _indices(messages: list[str], positions: list[int]) -> list[int]:
    """The index of the message each position of their newline join is in."""
    total = list(accumulate(map(len, messages)))
    # Message j ends at total[j] + j (a newline after each before it); adding
    # j only where bisect looks is cheaper than for every message.
    return [
        bisect.bisect_left(range(len(total)), pos, key=lambda j: total[j] + j)
        for pos in positions
    ]


def _positions(text: str, needles: tuple[str, ...]) -> list[int]:
    """Where any of `needles` occurs in `text`.

    A needle holding a backslash or `+` is only looked for when that character
    occurs at all: one `memchr`-speed test instead of a search of the text.
    """
    out = []
    for needle in needles:
        if ("\\" in needle and "\\" not in text) or ("+" in needle and "+" not in text):
            continue
        pos = text.find(needle)
        while pos != -1:
            out.append(pos)
            pos = text.find(needle, pos + len(needle))
    return out


def _whole_json(body: str) -> bool:
    """Whether an event's JSON document is (likely) whole in the event."""
    return "{" in body and body.rstrip().endswith("}")


def _read_event(message: str) -> tuple[str | None, str, bool]:
    """(request id or None, text without Lambda prefix, ends a Lambda error)."""
    rid = None
    prefix = LAMBDA_PREFIX_RE.match(message)
    if prefix:
        rid = prefix["rid"]
        message = message[prefix.end() :]
    else:
        marked = REQUEST_ID_RE.search(message[:200]) or _JSON_RID_RE.search(message)
        if marked:
            rid = marked["rid"]
    body = message.rstrip("\n")
    return rid, body, _ends_lambda_error(body)


def _ends_lambda_error(body: str) -> bool:
    return body.startswith(_LAMBDA_ERROR_HEAD) and _LAMBDA_ERROR_BODY in body


class _Marks:
    """Request ids, bodies and line counts of a stream's events, read lazily."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        self._read: dict[int, tuple[str | None, str, bool]] = {}
        self._rid_at: dict[int, str | None] = {}

    def read(self, j: int) -> tuple[str | None, str, bool]:
        got = self._read.get(j)
        if got is None:
            got = self._read[j] = _read_event(self.messages[j])
        return got

    def rid_at(self, j: int) -> str | None:
        """The request id last marked at or before event `j`."""
        cache = self._rid_at
        if j in cache:
            return cache[j]
        k = j
        while k >= 0 and k not in cache and self.read(k)[0] is None:
            k -= 1
        if k < 0:
            state = None
        elif k in cache:
            state = cache[k]
        else:
            state = cache[k] = self.read(k)[0]
        # Every event between is unmarked: it belongs to the same request.
        for i in range(k + 1, j + 1):
            cache[i] = state
        return state

    def body(self, j: int) -> str:
        return self.read(j)[1]

    def lines(self, j: int) -> int:
        _, body, ends = self.read(j)
        return body.count("\n") + 1 + ends


def _scan_window(
    event_at: Callable[[int], tuple[int, LogEvent]],
    messages: list[str],
    window: list[int],
    rid: str | None,
    marks: _Marks | None,
    found: list[tuple[int, Found]],
) -> None:
    """Scan a request's events `window` (stream indices) as consecutive lines."""
    offsets = []
    parts = []
    pos = 0
    for j in window:
        if marks is None:
            body = messages[j].rstrip("\n")
            ends = _ends_lambda_error(body)
        else:
            _, body, ends = marks.read(j)
        offsets.append(pos)
        parts.append(body)
        pos += len(body) + 1
        if ends:
            # A blank line ends the Lambda error's traceback with its event.
            parts.append("")
            pos += 1
    for hit in scan("\n".join(parts)):
        index = max(bisect.bisect_right(offsets, hit.start) - 1, 0)
        order, event = event_at(window[index])
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
