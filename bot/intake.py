"""POST /api/tracebacks: verify the forwarder's signature, record, queue."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

import cachetools
from aiohttp import web

from lambda_forwarder import signing

from .fixing.pipeline import fix_lane
from .services import SERVICES_KEY, Services
from .store import ForwarderKey
from .tracebacks import Traceback, fingerprint, redact, redact_traceback, render

logger = logging.getLogger(__name__)

# The forwarder splits its batches to stay under this; see lambda_forwarder.
MAX_BODY_BYTES = 1_000_000
MAX_OCCURRENCES = 5_000
MAX_BATCH_ID = 200
# Counts beyond this are no count a log could hold; SQLite stops at 2**63.
MAX_COUNT = 10**9
MAX_REMEMBERED_SIGNATURES = 100_000
UNKNOWN_OR_BAD = "unknown key id or signature does not match"
_FINGERPRINT_RE = re.compile(r"[0-9a-f]{64}")


class IntakeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def new_replay_memory() -> cachetools.TTLCache[tuple[str, str], bool]:
    """Signatures recorded lately: a signed body is good for the whole window."""
    return cachetools.TTLCache(
        maxsize=MAX_REMEMBERED_SIGNATURES, ttl=2 * signing.MAX_SKEW_SECONDS
    )


REPLAYS_KEY = web.AppKey("replays", cachetools.TTLCache)


async def post_tracebacks(request: web.Request) -> web.Response:
    services = request.app[SERVICES_KEY]
    replays = request.app[REPLAYS_KEY]
    try:
        body = await request.read()
        key = _verify(services, request, body)
        seen = (key.key_id, request.headers[signing.SIGNATURE_HEADER])
        log_group, items, batch_id = _read_body(body)
        _check_scope(key, log_group)
        # A batch id makes a resend harmless for good; without one, the same
        # signed bytes replayed inside the window are what we must refuse.
        accepted = (
            None
            if seen in replays
            else _record(services, key, log_group, items, batch_id)
        )
        replays[seen] = True
    except IntakeError as exc:
        logger.warning(
            "intake.rejected",
            extra={
                "status": exc.status,
                "reason": str(exc),
                "key_id": request.headers.get(signing.KEY_ID_HEADER),
                "remote": request.remote,
            },
        )
        return error_response(exc.status, str(exc))
    if accepted is None:
        # Answered as a success: the sender retries what it already sent.
        logger.info(
            "intake.duplicate", extra={"key_id": key.key_id, "batch_id": batch_id}
        )
        return web.json_response({"accepted": 0, "duplicate": True}, status=202)
    logger.info(
        "intake.accepted",
        extra={"key_id": key.key_id, "log_group": log_group, "occurrences": accepted},
    )
    return web.json_response({"accepted": accepted}, status=202)


def _verify(services: Services, request: web.Request, body: bytes) -> ForwarderKey:
    key_id = request.headers.get(signing.KEY_ID_HEADER, "")
    timestamp = request.headers.get(signing.TIMESTAMP_HEADER, "")
    signature = request.headers.get(signing.SIGNATURE_HEADER, "")
    if not key_id or not timestamp or not signature:
        raise IntakeError(401, "missing signature headers")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise IntakeError(401, "timestamp is not whole seconds") from None
    if abs(time.time() - sent_at) > signing.MAX_SKEW_SECONDS:
        raise IntakeError(401, "timestamp outside the 5 minute window")
    key = find_key(services, key_id)
    # One answer for an unknown key and a wrong signature, so the answers do
    # not tell which key ids exist; the log line says which it was.
    if key is None or key.revoked:
        logger.info("intake.unknown_key", extra={"key_id": key_id})
        raise IntakeError(401, UNKNOWN_OR_BAD)
    if not signing.signature_matches(key.secret, sent_at, body, signature):
        raise IntakeError(401, UNKNOWN_OR_BAD)
    return key


def find_key(services: Services, key_id: str) -> ForwarderKey | None:
    """A key from the store, or the one the settings name."""
    settings = services.settings
    if (
        settings.forwarder_key_id
        and settings.forwarder_secret
        and key_id == settings.forwarder_key_id
    ):
        return ForwarderKey(key_id, settings.forwarder_secret, None, None, False)
    return services.store.key(key_id)


def _without_lone_surrogates(value: Any) -> Any:
    """JSON may escape half a surrogate pair (a file name Python read with
    surrogateescape); no UTF-8 store or API takes one, so it becomes U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {
            _without_lone_surrogates(k): _without_lone_surrogates(v)
            for k, v in value.items()
        }
    return value


def _check_scope(key: ForwarderKey, log_group: str) -> None:
    if key.log_group_prefix and not log_group.startswith(key.log_group_prefix):
        raise IntakeError(403, f"key may not send log group {log_group!r}")


def _read_body(body: bytes) -> tuple[str, list[dict[str, Any]], str | None]:
    try:
        data = _without_lone_surrogates(json.loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntakeError(400, f"body is not JSON: {exc}") from None
    except RecursionError:
        raise IntakeError(400, "body is nested too deeply") from None
    if not isinstance(data, dict):
        raise IntakeError(400, "body must be a JSON object")
    log_group = data.get("log_group")
    if not isinstance(log_group, str) or not log_group:
        raise IntakeError(400, "log_group must be a non-empty string")
    items = data.get("occurrences")
    if not isinstance(items, list) or not items:
        raise IntakeError(400, "occurrences must be a non-empty list")
    if len(items) > MAX_OCCURRENCES:
        raise IntakeError(400, f"more than {MAX_OCCURRENCES} occurrences")
    batch_id = data.get("batch_id")
    if batch_id is not None and (
        not isinstance(batch_id, str) or not 0 < len(batch_id) <= MAX_BATCH_ID
    ):
        raise IntakeError(400, f"batch_id must be a string of 1 to {MAX_BATCH_ID}")
    return log_group, items, batch_id


def _record(
    services: Services,
    key: ForwarderKey,
    log_group: str,
    items: list[dict[str, Any]],
    batch_id: str | None,
) -> int | None:
    """Check every item, then store them all and queue their jobs at once.

    Returns None for a batch already recorded: Lambda retries a whole event
    when any of its posts failed, and the forwarder names each body.
    """
    rows = []
    for n, item in enumerate(items):
        try:
            rows.append(_occurrence(item))
        except (ValueError, TypeError, KeyError) as exc:
            raise IntakeError(400, f"occurrences[{n}]: {exc}") from None
    store = services.store
    ids = []
    with store.transaction():
        if batch_id and not store.first_delivery(
            f"batch:{key.key_id}:{batch_id}", "tracebacks"
        ):
            return None
        for tb, text, item in rows:
            fp = _fingerprint(item, tb)
            occurrence_id = store.add_occurrence(
                fingerprint=fp,
                log_group=log_group,
                log_stream=item.get("log_stream"),
                key_id=key.key_id,
                count=item["count"],
                first_seen=item.get("first_seen"),
                last_seen=item.get("last_seen"),
                traceback=tb.to_dict(),
                text=text,
            )
            ids.append((occurrence_id, fp))
            store.add_job("occurrence", {"occurrence_id": occurrence_id}, fix_lane(fp))
    services.queue.wake()
    return len(ids)


def _fingerprint(item: dict[str, Any], tb: Traceback) -> str:
    """Our own fingerprint; for a cut rendering, the forwarder's if well formed.

    The forwarder sees the whole batch and ties a cut rendering of an error to
    the whole one logged beside it, which the traceback alone cannot. A whole
    traceback never takes a sender's word: it could file one error under
    another's muted fingerprint.
    """
    posted = item.get("fingerprint")
    if tb.partial and isinstance(posted, str) and _FINGERPRINT_RE.fullmatch(posted):
        return posted
    return fingerprint(tb)


def _occurrence(item: Any) -> tuple[Traceback, str, dict[str, Any]]:
    if not isinstance(item, dict):
        raise ValueError("must be an object")
    # The forwarder redacts too; doing it again here covers any sender.
    tb = redact_traceback(Traceback.from_dict(item.get("traceback")))
    text = item.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError("text must be a string")
    count = item.get("count", 1)
    if (
        isinstance(count, bool)
        or not isinstance(count, int)
        or not 0 < count <= MAX_COUNT
    ):
        raise ValueError(f"count must be a whole number from 1 to {MAX_COUNT}")
    for name in ("first_seen", "last_seen"):
        value = item.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**53
        ):
            raise ValueError(f"{name} must be epoch milliseconds")
    stream = item.get("log_stream")
    if stream is not None and not isinstance(stream, str):
        raise ValueError("log_stream must be a string")
    clean = {**item, "count": count}
    return tb, redact(text) if text else render(tb), clean
