"""Occurrences, their batching under the body limit, and signed delivery."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import BotRejectedError, DeliveryError, OccurrenceTooLargeError
from .settings import MAX_BODY_BYTES
from .signing import signed_headers

logger = logging.getLogger(__name__)

TRUNCATION_MARK = "\n...[truncated by the forwarder]"


@dataclass(slots=True)
class Occurrence:
    """One distinct traceback of an invocation and how often it was seen."""

    fingerprint: str
    count: int
    first_seen: int
    last_seen: int
    log_stream: str | None
    request_id: str | None
    text: str
    traceback: dict[str, Any]

    def seen_again(self, timestamp: int) -> None:
        self.count += 1
        self.first_seen = min(self.first_seen, timestamp)
        self.last_seen = max(self.last_seen, timestamp)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "log_stream": self.log_stream,
            "request_id": self.request_id,
            "text": self.text,
            "traceback": self.traceback,
        }


@dataclass(frozen=True, slots=True)
class Batch:
    """One request body and the occurrences it carries."""

    body: bytes
    occurrences: list[Occurrence]

    @property
    def tracebacks(self) -> int:
        return sum(o.count for o in self.occurrences)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one POST; tests shrink the delays instead of sleeping."""

    max_attempts: int = 8
    base_delay: float = 0.25
    max_delay: float = 8.0
    request_timeout: float = 10.0
    # Stop early enough to log and raise before Lambda kills the invocation.
    safety_margin_ms: int = 3000
    # Not worth starting an attempt with less time than this.
    min_attempt_seconds: float = 0.5
    # Budget when there is no Lambda context (bench, local runs).
    default_budget_ms: int = 60_000


DEFAULT_POLICY = RetryPolicy()


def _dumps(value: Any) -> bytes:
    # A log line may hold half a surrogate pair (a file name Python decoded
    # with surrogateescape). UTF-8 cannot carry it; as a JSON escape it travels
    # and the bot replaces it, where a plain encode would lose the whole batch.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "backslashreplace")


def build_batches(
    log_group: str,
    owner: str,
    occurrences: Iterable[Occurrence],
    max_body_bytes: int = MAX_BODY_BYTES,
    batch_key: str = "",
) -> list[Batch]:
    """Pack occurrences, in order, into as few bodies as fit under the limit.

    With a `batch_key` (stable across Lambda's retries of one event), each
    body carries a `batch_id`, so the bot can drop a body it already has.
    """
    head = b'{"log_group":' + _dumps(log_group) + b',"owner":' + _dumps(owner)
    head += b',"occurrences":['

    def tail(n: int) -> bytes:
        if not batch_key:
            return b"]}"
        return b'],"batch_id":' + _dumps(f"{batch_key}:{n:04d}") + b"}"

    room = max_body_bytes - len(head) - len(tail(0))
    batches: list[Batch] = []
    parts: list[bytes] = []
    members: list[Occurrence] = []
    size = 0
    for occurrence in occurrences:
        part = _encode_within(occurrence, room)
        # A comma joins every part after the first.
        extra = len(part) + (1 if parts else 0)
        if parts and size + extra > room:
            batches.append(Batch(head + b",".join(parts) + tail(len(batches)), members))
            parts, members, size = [], [], 0
            extra = len(part)
        parts.append(part)
        members.append(occurrence)
        size += extra
    if parts:
        batches.append(Batch(head + b",".join(parts) + tail(len(batches)), members))
    return batches


def _encode_within(occurrence: Occurrence, room: int) -> bytes:
    part = _dumps(occurrence.to_dict())
    if len(part) <= room:
        return part
    # Too big alone (a huge message or log line): cut the text first, then the
    # longest exception messages, rather than lose the occurrence.
    over = len(part) - room
    keep = len(occurrence.text) - over - len(TRUNCATION_MARK)
    occurrence.text = occurrence.text[: max(keep, 0)] + TRUNCATION_MARK
    part = _dumps(occurrence.to_dict())
    for _ in range(16):
        if len(part) <= room:
            return part
        block = _longest_message_block(occurrence.traceback)
        if block is None:
            break
        over = len(part) - room
        message = block["message"]
        keep = len(message) - over - len(TRUNCATION_MARK)
        block["message"] = message[: max(keep, 0)] + TRUNCATION_MARK
        part = _dumps(occurrence.to_dict())
    if len(part) <= room:
        return part
    raise OccurrenceTooLargeError(
        f"occurrence {occurrence.fingerprint} is {len(part)} bytes after cutting;"
        f" the limit leaves {room}"
    )


def _longest_message_block(traceback: dict[str, Any]) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    stack = [traceback]
    while stack:
        for block in stack.pop().get("blocks", []):
            message = block.get("message")
            # Not worth cutting what is already about the size of the mark.
            worth_it = isinstance(message, str) and len(message) > 2 * len(
                TRUNCATION_MARK
            )
            if worth_it and (best is None or len(message) > len(best["message"])):
                best = block
            stack.extend(block.get("sub_exceptions", []))
    return best


# One kept-alive connection per bot address, reused while the container is
# warm: no TCP or TLS handshake per invocation.
_connections: dict[tuple[str, str, int | None], Any] = {}


def _post(
    url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int, Any, bytes]:
    """POST on a kept-alive connection; return (status, headers, body).

    http.client, not urllib: urllib opens a connection per request and would
    follow a redirect by replaying a POST as a bodiless GET.
    """
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    key = (parts.scheme, parts.hostname or "", parts.port)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    reused = _connections.pop(key, None)
    for connection in [reused, None] if reused is not None else [None]:
        try:
            if connection is None:
                connection = _connect(parts, timeout)
            else:
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            if connection is not None:
                connection.close()
            # A kept-alive connection the bot closed meanwhile: one more try
            # on a fresh one, which is no retry of the delivery. A timeout is
            # the bot being slow, not a dead socket: that is a real failure.
            if (
                reused is not None
                and connection is reused
                and not isinstance(exc, TimeoutError)
            ):
                continue
            raise
        if response.will_close:
            connection.close()
        else:
            _connections[key] = connection
        return response.status, response.headers, data
    raise AssertionError("unreachable")


def close_connections() -> None:
    """Close the kept-alive connections (tests, and a bot that moved)."""
    while _connections:
        _, connection = _connections.popitem()
        connection.close()


def _connect(parts: Any, timeout: float) -> Any:
    import http.client

    if parts.scheme == "https":
        import ssl

        return http.client.HTTPSConnection(
            parts.hostname,
            parts.port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    if parts.scheme != "http":
        raise OSError(f"unsupported URL scheme {parts.scheme!r}")
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def deliver(
    url: str,
    body: bytes,
    *,
    key_id: str,
    secret: str,
    deadline: float,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[], float] = random.random,
) -> int:
    """POST one signed body, retrying until `deadline` (a `clock()` value).

    Return the number of attempts made; raise DeliveryError when it did not
    get through, BotRejectedError at once for a 4xx other than 429.
    """
    import http.client

    attempt = 0
    last = "no attempt made"
    status: int | None = None
    while True:
        left = deadline - clock()
        if left < policy.min_attempt_seconds:
            raise DeliveryError(
                f"gave up after {attempt} attempts, out of time: {last}",
                attempts=attempt,
                status=status,
            )
        attempt += 1
        # Re-sign each attempt: the bot bounds the timestamp's age.
        headers = signed_headers(key_id, secret, int(time.time()), body)
        retry_after: float | None = None
        try:
            status, answer_headers, data = _post(
                url, body, headers, min(policy.request_timeout, left)
            )
        except (OSError, http.client.HTTPException) as exc:
            # Refused, reset, DNS, TLS and timeouts all land here.
            status = None
            last = f"{type(exc).__name__}: {exc}"
        else:
            if 200 <= status < 300:
                return attempt
            detail = data[:200].decode("utf-8", "replace")
            last = f"HTTP {status} {detail}".rstrip()
            # A redirect is refused too: a POST must not wander off.
            if status != 429 and status < 500:
                logger.error(
                    "bot rejected the batch with HTTP %s: %s; check BOT_URL, the"
                    " key id and the secret",
                    status,
                    detail,
                )
                raise BotRejectedError(
                    f"bot answered {last}", attempts=attempt, status=status
                )
            retry_after = _retry_after(answer_headers.get("Retry-After"))
        if attempt >= policy.max_attempts:
            raise DeliveryError(
                f"gave up after {attempt} attempts: {last}",
                attempts=attempt,
                status=status,
            )
        # Full jitter spreads retries of many concurrent forwarders apart.
        delay = jitter() * min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
        if retry_after is not None:
            delay = max(delay, retry_after)
        if clock() + delay + policy.min_attempt_seconds > deadline:
            raise DeliveryError(
                f"gave up after {attempt} attempts, next wait {delay:.1f}s would"
                f" outlive the invocation: {last}",
                attempts=attempt,
                status=status,
            )
        logger.warning("delivery attempt %d failed (%s); retrying", attempt, last)
        sleep(delay)


def _retry_after(value: str | None) -> float | None:
    """Parse Retry-After given as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # rare: most servers send seconds

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
