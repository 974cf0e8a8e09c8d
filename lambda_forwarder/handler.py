"""Lambda entry point: subscription batch in, redacted tracebacks out to the bot."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from bot.tracebacks import (
    Found,
    decode_subscription_event,
    find_in_subscription,
    fingerprint,
    redact,
    redact_traceback,
)

from .delivery import DEFAULT_POLICY, Occurrence, RetryPolicy, build_batches, deliver
from .errors import BotRejectedError, DeliveryError, SettingMissingError
from .settings import MAX_BODY_BYTES, Settings, clear_secret_cache, load_settings

LOG_EVENT_NAME = "forwarder.invocation"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda handler; raises when a batch was not delivered, so Lambda keeps it."""
    return forward(event, context)


def forward(
    event: dict[str, Any],
    context: Any = None,
    *,
    settings: Settings | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    max_body_bytes: int = MAX_BODY_BYTES,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Forward one subscription event; return the invocation's log record."""
    started = time.perf_counter()
    record: dict[str, Any] = {
        "event": LOG_EVENT_NAME,
        "log_group": None,
        "events_scanned": 0,
        "tracebacks_found": 0,
        "occurrences": 0,
        "tracebacks_posted": 0,
        "posts": 0,
        "bytes": 0,
        "ms": 0,
        "outcome": "error",
    }
    try:
        data = decode_subscription_event(event)
        record["log_group"] = data.get("logGroup")
        if data.get("messageType") == "CONTROL_MESSAGE":
            # CloudWatch Logs only checks that the destination is reachable.
            record["outcome"] = "control_message"
            return record
        # Fail fast on a missing setting, even on a batch without tracebacks.
        settings = settings or load_settings()
        log_stream = data.get("logStream")
        raw_events = data.get("logEvents") or []
        record["events_scanned"] = len(raw_events)
        # LogEvents are built only for events holding a traceback.
        found = find_in_subscription(raw_events, log_stream)
        record["tracebacks_found"] = len(found)
        if not found:
            record["outcome"] = "no_tracebacks"
            return record
        occurrences = collect_occurrences(found, default_log_stream=log_stream)
        record["occurrences"] = len(occurrences)
        batches = build_batches(
            data.get("logGroup") or "",
            data.get("owner") or "",
            occurrences,
            max_body_bytes,
            batch_key=batch_key(data),
        )
        deadline = _deadline(context, policy)
        for batch in batches:
            deliver(
                settings.endpoint,
                batch.body,
                key_id=settings.key_id,
                secret=settings.secret,
                deadline=deadline,
                policy=policy,
                sleep=sleep,
            )
            record["posts"] += 1
            record["bytes"] += len(batch.body)
            record["tracebacks_posted"] += batch.tracebacks
        record["outcome"] = "ok"
        return record
    except BotRejectedError as exc:
        record["outcome"] = "rejected"
        record["error"] = str(exc)
        if exc.status in (401, 403):
            # Perhaps the secret was rotated: read it afresh on Lambda's retry.
            clear_secret_cache()
        raise
    except DeliveryError as exc:
        record["outcome"] = "delivery_failed"
        record["error"] = str(exc)
        raise
    except SettingMissingError as exc:
        record["outcome"] = "misconfigured"
        record["error"] = str(exc)
        raise
    finally:
        record["ms"] = round((time.perf_counter() - started) * 1000, 1)
        # One JSON line per invocation; stdout lands in the function's log group.
        print(json.dumps(record, ensure_ascii=False))


def batch_key(data: dict[str, Any]) -> str:
    """A key that Lambda's retries of one event share, and no other event has.

    CloudWatch Logs gives every log event a unique id, so the group, stream
    and first and last ids name the delivery.
    """
    events = data.get("logEvents") or []
    if not events or not events[0].get("id"):
        return ""
    name = "\n".join(
        [
            str(data.get("logGroup")),
            str(data.get("logStream")),
            str(events[0].get("id")),
            str(events[-1].get("id")),
            str(len(events)),
        ]
    )
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def collect_occurrences(
    found: Iterable[Found], default_log_stream: str | None = None
) -> list[Occurrence]:
    """Redact each traceback and merge those sharing a fingerprint, in order."""
    now_ms = int(time.time() * 1000)
    merged: dict[str, Occurrence] = {}
    for item in found:
        traceback = redact_traceback(item.traceback)
        # The parser's fingerprint, when it gives one, also ties a partial
        # rendering to the complete one found beside it.
        key = getattr(item, "fingerprint", "") or fingerprint(traceback)
        seen = item.timestamp if item.timestamp is not None else now_ms
        occurrence = merged.get(key)
        if occurrence is not None:
            occurrence.seen_again(seen)
            continue
        merged[key] = Occurrence(
            fingerprint=key,
            count=1,
            first_seen=seen,
            last_seen=seen,
            log_stream=item.log_stream or default_log_stream,
            request_id=item.request_id,
            text=redact(item.text),
            traceback=traceback.to_dict(),
        )
    return list(merged.values())


def _deadline(context: Any, policy: RetryPolicy) -> float:
    """Return the `time.monotonic()` by which delivery must be over."""
    remaining_ms = policy.default_budget_ms
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        remaining_ms = context.get_remaining_time_in_millis()
    return time.monotonic() + (remaining_ms - policy.safety_margin_ms) / 1000
