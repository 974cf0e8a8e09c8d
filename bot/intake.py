"""POST /api/tracebacks: verify the forwarder's signature, record, queue."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

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
_FINGERPRINT_RE = re.compile(r"[0-9a-f]{64}")


class IntakeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def post_tracebacks(request: web.Request) -> web.Response:
    services = request.app[SERVICES_KEY]
    try:
        body = await request.read()
        key = _verify(services, request, body)
        log_group, items, batch_id = _read_body(body)
        _check_scope(key, log_group)
        accepted = _record(services, key, log_group, items, batch_id)
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
            "intake.duplicate_batch", extra={"key_id": key.key_id, "batch_id": batch_id}
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
    key = find_key(services, key_id)
    if key is None or key.revoked:
        raise IntakeError(401, "unknown or revoked key id")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise IntakeError(401, "timestamp is not whole seconds") from None
    if abs(time.time() - sent_at) > signing.MAX_SKEW_SECONDS:
        raise IntakeError(401, "timestamp outside the 5 minute window")
    if not signing.signature_matches(key.secret, sent_at, body, signature):
        raise IntakeError(401, "signature does not match")
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


def _check_scope(key: ForwarderKey, log_group: str) -> None:
    if key.log_group_prefix and not log_group.startswith(key.log_group_prefix):
        raise IntakeError(403, f"key may not send log group {log_group!r}")


def _read_body(body: bytes) -> tuple[str, list[dict[str, Any]], str | None]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntakeError(400, f"body is not JSON: {exc}") from None
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
    """The forwarder's fingerprint when well formed, else our own.

    The forwarder sees the whole batch, and ties a cut rendering of an error
    to the whole one logged beside it; the traceback alone cannot.
    """
    posted = item.get("fingerprint")
    if isinstance(posted, str) and _FINGERPRINT_RE.fullmatch(posted):
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
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be a whole number of 1 or more")
    for name in ("first_seen", "last_seen"):
        value = item.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int)
        ):
            raise ValueError(f"{name} must be epoch milliseconds")
    stream = item.get("log_stream")
    if stream is not None and not isinstance(stream, str):
        raise ValueError("log_stream must be a string")
    clean = {**item, "count": count}
    return tb, redact(text) if text else render(tb), clean
