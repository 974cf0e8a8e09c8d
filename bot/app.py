"""make_app(settings): routes, and the start-up and clean-up of the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from . import intake, setup, webhooks
from .events import commands, config, installations
from .fixing.bedrock import BedrockProvider
from .fixing.openai_compat import OpenAICompatibleProvider
from .fixing.pipeline import UNCLAIMED_TTL_SECONDS, FixPipeline, fix_lane
from .fixing.providers import ModelProvider
from .fixing.steering import Steering
from .github.auth import GitHubApp
from .queue import Queue, Worker
from .services import SERVICES_KEY, Services
from .settings import Settings, SetupSettings
from .store import Store

logger = logging.getLogger(__name__)

WORKER_KEY = web.AppKey("worker", Worker)
PRUNE_EVERY_SECONDS = 3600
# Long enough to outlast GitHub's redeliveries and Lambda's retries (6 hours).
DELIVERY_MEMORY_SECONDS = 7 * 24 * 3600


def make_app(
    settings: Settings | SetupSettings,
    *,
    provider: ModelProvider | None = None,
    worker_concurrency: int = 2,
    sync_on_start: bool = True,
) -> web.Application:
    """Build the web app; nothing is opened until it starts.

    Without a registered GitHub App (SetupSettings) only the set-up pages and
    /healthz are served.
    """
    if isinstance(settings, SetupSettings):
        return setup.make_setup_app(settings)
    app = web.Application(
        client_max_size=intake.MAX_BODY_BYTES, middlewares=[_errors_as_json]
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/tracebacks", intake.post_tracebacks)
    app[intake.REPLAYS_KEY] = intake.new_replay_memory()
    app.router.add_post("/webhooks/github", webhooks.post_webhook)
    setup.add_routes(app, settings.setup, app_id=settings.app_id)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        store = Store(settings.database)
        queue = Queue(store)
        services = Services(
            settings=settings,
            store=store,
            queue=queue,
            github=GitHubApp(
                session,
                app_id=settings.app_id,
                private_key=settings.private_key,
                base_url=settings.github_api_url,
            ),
            provider=provider or model_provider(settings, session),
        )
        app[SERVICES_KEY] = services
        worker = Worker(
            store, queue, job_handlers(services), concurrency=worker_concurrency
        )
        app[WORKER_KEY] = worker
        worker.start()
        if sync_on_start:
            queue.put(installations.SYNC_ALL_JOB, {})
        pruner = asyncio.create_task(_prune_forever(store))
        logger.info("app.started", extra={"database": settings.database})
        try:
            yield
        finally:
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruner
            await worker.stop()
            await session.close()
            store.close()
            logger.info("app.stopped")

    app.cleanup_ctx.append(lifecycle)
    return app


def model_provider(settings: Settings, session: aiohttp.ClientSession) -> ModelProvider:
    """The provider the settings name: Bedrock, or an OpenAI-compatible server."""
    if settings.model_provider == "openai":
        assert settings.openai_base_url is not None
        return OpenAICompatibleProvider(
            session,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
        )
    return BedrockProvider(
        region=settings.bedrock_region, endpoint_url=settings.bedrock_endpoint_url
    )


def job_handlers(
    services: Services,
) -> dict[str, Callable[[dict[str, Any]], Awaitable[None]]]:
    pipeline = FixPipeline(services)

    def bound(func: Any) -> Callable[[dict[str, Any]], Awaitable[None]]:
        async def run(payload: dict[str, Any]) -> None:
            await func(services, payload)

        return run

    return {
        "occurrence": pipeline.handle_occurrence,
        commands.COMMAND_JOB: Steering(services, pipeline).run,
        installations.SYNC_ALL_JOB: bound(installations.sync_all),
        installations.SYNC_INSTALLATION_JOB: bound(installations.sync_installation),
        config.LOAD_CONFIG_JOB: bound(config.load_config_job),
        "reroute": bound(reroute),
    }


async def reroute(services: Services, payload: dict[str, Any]) -> None:
    """Give occurrences that waited for a claim to the repo that now claims them."""
    row = services.store.repo(payload["repo"])
    stored = config.stored_config(row)
    if not stored:
        return
    names = [group["name"] for group in stored.get("log_groups", [])]
    waiting = services.store.occurrence_ids_for(names) if names else []
    for occurrence_id, fingerprint in waiting:
        services.queue.put(
            "occurrence", {"occurrence_id": occurrence_id}, lane=fix_lane(fingerprint)
        )
    if waiting:
        logger.info("occurrences.rerouted", extra={"count": len(waiting)})


async def healthz(request: web.Request) -> web.Response:
    services = request.app.get(SERVICES_KEY)
    pending = services.store.pending_jobs() if services else None
    return web.json_response({"ok": True, "pending_jobs": pending})


@web.middleware
async def _errors_as_json(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """The endpoint never falls over: every failure is a JSON answer, logged."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        logger.warning("http.error", extra={"path": request.path, "status": exc.status})
        return web.json_response({"error": exc.reason}, status=exc.status)
    except Exception:
        logger.exception("http.unhandled", extra={"path": request.path})
        return web.json_response({"error": "internal error"}, status=500)


async def _prune_forever(store: Store) -> None:
    """Drop tracebacks no repository claimed within a day, counting them."""
    while True:
        dropped = store.prune_occurrences(time.time() - UNCLAIMED_TTL_SECONDS)
        if dropped:
            logger.info("occurrences.pruned", extra={"count": dropped})
        forgotten = store.prune_deliveries(time.time() - DELIVERY_MEMORY_SECONDS)
        if forgotten:
            logger.info("deliveries.pruned", extra={"count": forgotten})
        await asyncio.sleep(PRUNE_EVERY_SECONDS)
