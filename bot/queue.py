"""Durable jobs on the store, and the in-process worker that runs them.

A job belongs to a lane (a pull request, a fingerprint): jobs of one lane run
one at a time in the order they came, so two `/retry` commands on one PR
queue up behind each other while other lanes go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .store import Job, Store

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]

MAX_TRIES = 3
# Two model rounds with their timeouts and retries, and GitHub calls around.
JOB_TIMEOUT_SECONDS = 15 * 60
RETRY_DELAYS = (5.0, 60.0)


class Queue:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._wake = asyncio.Event()

    def put(
        self, kind: str, payload: dict[str, Any], *, lane: str | None = None
    ) -> int:
        job_id = self._store.add_job(kind, payload, lane)
        self._wake.set()
        logger.debug("job.queued", extra={"job_id": job_id, "kind": kind, "lane": lane})
        return job_id

    def wake(self) -> None:
        self._wake.set()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()


class Worker:
    """Claim jobs and run their handlers, a few at a time."""

    def __init__(
        self,
        store: Store,
        queue: Queue,
        handlers: dict[str, Handler],
        *,
        concurrency: int = 2,
        poll_seconds: float = 5.0,
        job_timeout: float = JOB_TIMEOUT_SECONDS,
    ) -> None:
        self._store = store
        self._queue = queue
        self._handlers = handlers
        self._concurrency = concurrency
        self._poll_seconds = poll_seconds
        self._job_timeout = job_timeout
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        requeued = self._store.requeue_running_jobs()
        if requeued:
            logger.info("jobs.requeued", extra={"count": requeued})
        self._tasks = [
            asyncio.create_task(self._loop(), name=f"worker-{n}")
            for n in range(self._concurrency)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until no job is queued or running (for tests and the demo)."""
        deadline = time.monotonic() + timeout
        while self._store.pending_jobs():
            if time.monotonic() > deadline:
                raise TimeoutError("jobs still pending")
            self._queue.wake()
            await asyncio.sleep(0.02)

    async def _loop(self) -> None:
        while True:
            try:
                job = self._store.claim_job()
                if job is None:
                    await self._queue.wait(self._poll_seconds)
                    continue
                await self._run(job)
            except Exception:
                # A locked or failing database must not end the worker for good
                # (nothing would run until a restart). A job it left running
                # goes back to the queue at the next start.
                logger.exception("worker.turn_failed")
                await asyncio.sleep(self._poll_seconds)
                continue
            # Another worker may be waiting for this job's lane to free up.
            self._queue.wake()

    async def _run(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        fields = {"job_id": job.id, "kind": job.kind, "try": job.tries}
        if handler is None:
            logger.error("job.unknown_kind", extra=fields)
            self._store.fail_job(job.id, f"no handler for {job.kind}", None)
            return
        started = time.monotonic()
        try:
            # A model or GitHub call that never returns must not hold a worker
            # (and the lane behind it) for ever.
            await asyncio.wait_for(handler(job.payload), self._job_timeout)
        except asyncio.CancelledError:
            self._store.fail_job(job.id, "cancelled", time.time())
            raise
        except Exception as exc:
            retry_at = None
            if job.tries < MAX_TRIES:
                retry_at = time.time() + RETRY_DELAYS[min(job.tries, 2) - 1]
            extra = {**fields, "will_retry": retry_at is not None}
            if isinstance(exc, OSError | TimeoutError):
                # GitHub or Bedrock out of reach: expected now and then, and a
                # page of traceback on every retry tells nobody anything.
                logger.warning("job.failed", extra={**extra, "error": repr(exc)})
            else:
                logger.exception("job.failed", extra=extra)
            self._store.fail_job(job.id, f"{type(exc).__name__}: {exc}", retry_at)
            return
        self._store.finish_job(job.id)
        logger.info(
            "job.done",
            extra={**fields, "ms": round((time.monotonic() - started) * 1000)},
        )
