"""The durable queue and its worker: lanes, retries, timeouts, a failing store."""

from __future__ import annotations

import asyncio

import pytest

from bot import queue as queue_module
from bot.queue import Queue, Worker
from bot.store import Store


@pytest.fixture
def store(tmp_path):
    db = Store(str(tmp_path / "q.sqlite3"))
    yield db
    db.close()


async def _run_until_drained(store, handlers, **options) -> Worker:
    queue = Queue(store)
    worker = Worker(store, queue, handlers, poll_seconds=0.01, **options)
    worker.start()
    try:
        await worker.drain(timeout=10)
    finally:
        await worker.stop()
    return worker


async def test_jobs_of_one_lane_never_overlap(store):
    running: set[str] = set()
    overlaps: list[str] = []

    async def job(payload):
        if payload["lane"] in running:
            overlaps.append(payload["lane"])
        running.add(payload["lane"])
        await asyncio.sleep(0.02)
        running.discard(payload["lane"])

    for n in range(6):
        store.add_job("k", {"lane": f"pr:{n % 2}"}, f"pr:{n % 2}")
    await _run_until_drained(store, {"k": job}, concurrency=3)
    assert overlaps == []


async def test_a_failing_job_is_tried_again_then_given_up(store, monkeypatch):
    monkeypatch.setattr(queue_module, "RETRY_DELAYS", (0.0, 0.0))
    tries = []

    async def job(payload):
        tries.append(1)
        raise RuntimeError("boom")

    store.add_job("k", {}, None)
    await _run_until_drained(store, {"k": job})
    assert len(tries) == queue_module.MAX_TRIES
    assert store.pending_jobs() == 0


async def test_a_job_that_hangs_is_stopped_and_the_lane_moves_on(store, monkeypatch):
    monkeypatch.setattr(queue_module, "MAX_TRIES", 1)
    done = []

    async def hangs(payload):
        await asyncio.sleep(3600)

    async def quick(payload):
        done.append(payload["n"])

    store.add_job("hangs", {}, "lane")
    store.add_job("quick", {"n": 1}, "lane")
    await _run_until_drained(store, {"hangs": hangs, "quick": quick}, job_timeout=0.05)
    assert done == [1]
