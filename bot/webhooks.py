"""POST /webhooks/github: verify, de-duplicate, dispatch to the routers."""

from __future__ import annotations

import logging
import time

import gidgethub
import gidgethub.routing
import gidgethub.sansio
from aiohttp import web

from .events import commands, config, installations, pulls
from .services import SERVICES_KEY

logger = logging.getLogger(__name__)

router = gidgethub.routing.Router(
    installations.router, config.router, commands.router, pulls.router
)


async def post_webhook(request: web.Request) -> web.Response:
    services = request.app[SERVICES_KEY]
    body = await request.read()
    if "X-Hub-Signature-256" not in request.headers:
        # gidgethub would fall back to the SHA-1 X-Hub-Signature; we never do.
        logger.warning("webhook.bad_signature", extra={"error": "no sha256 signature"})
        return web.json_response(
            {"error": "signature: X-Hub-Signature-256 is missing"}, status=401
        )
    try:
        event = gidgethub.sansio.Event.from_http(
            request.headers, body, secret=services.settings.webhook_secret
        )
    except gidgethub.ValidationFailure as exc:
        logger.warning("webhook.bad_signature", extra={"error": str(exc)})
        # gidgethub says which: no signature header, or one that does not match.
        return web.json_response({"error": f"signature: {exc}"}, status=401)
    except (gidgethub.BadRequest, KeyError, ValueError) as exc:
        logger.warning("webhook.malformed", extra={"error": str(exc)})
        return web.json_response({"error": f"malformed delivery: {exc}"}, status=400)
    if not isinstance(event.data, dict):
        # Every GitHub event is an object; the handlers may count on it.
        logger.warning("webhook.malformed", extra={"error": "body is not an object"})
        return web.json_response(
            {"error": "malformed delivery: body is not a JSON object"}, status=400
        )
    fields = _fields(event)
    if event.event == "ping":
        logger.info("webhook.ping", extra=fields)
        return web.json_response({"pong": True})
    if not services.store.first_delivery(event.delivery_id, event.event):
        logger.info("webhook.duplicate", extra=fields)
        return web.json_response({"duplicate": True})
    started = time.monotonic()
    try:
        await router.dispatch(event, services=services)
    except Exception:
        # Forget the delivery so a redelivery from GitHub can try again.
        services.store.forget_delivery(event.delivery_id)
        logger.exception("webhook.failed", extra=fields)
        return web.json_response({"error": "internal error"}, status=500)
    logger.info(
        "webhook.handled",
        extra={
            **fields,
            "ms": round((time.monotonic() - started) * 1000),
            "rate_limit_remaining": services.github.rate_limit_remaining,
        },
    )
    return web.json_response({"ok": True})


def _fields(event: gidgethub.sansio.Event) -> dict[str, object]:
    data = event.data
    return {
        "delivery_id": event.delivery_id,
        "event": event.event,
        "action": data.get("action"),
        "installation_id": (data.get("installation") or {}).get("id"),
        "repo": (data.get("repository") or {}).get("full_name"),
    }
