"""Decorators for the seed Celery tasks: locking, progress and timing."""

import functools
import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)
LOCK_TIMEOUT = 60 * 60 * 4


def _get_lock_key(func_name, import_file_pk):
    return "_".join([func_name, str(import_file_pk)])


def get_prog_key(func_name, import_file_pk):
    """The cache key that holds a task's progress for an import file."""
    return "_".join([func_name, "progress", str(import_file_pk)])


def acquire_lock(name, expiration=None):
    """Take the named lock unless another worker holds it."""
    return cache.add(name, True, expiration or LOCK_TIMEOUT)


def release_lock(name):
    cache.delete(name)


def is_locked(name):
    return cache.get(name) is not None


def lock_and_track(fn, *args, **kwargs):
    """Run a task for one import file at a time, and track its progress.

    The first positional argument of the task must be the import file's pk.
    """

    @functools.wraps(fn)
    def _wrapped(import_file_pk, *args, **kwargs):
        key = _get_lock_key(fn.__name__, import_file_pk)
        if is_locked(key):
            logger.warning("%s already running for %s", fn.__name__, import_file_pk)
            return {"status": "locked"}
        acquire_lock(key)
        prog_key = get_prog_key(fn.__name__, import_file_pk)
        cache.set(prog_key, 0)
        started = time.time()
        response = None
        try:
            logger.info("%s started for %s", fn.__name__, import_file_pk)
            # Tasks report their own progress; the decorator only frames it.
            # A task that dies leaves its progress where it was, and the
            # finally below frees the lock so the import can be retried.
            if args and isinstance(args[0], dict):
                kwargs.setdefault("options", args[0])
                args = args[1:]
            logger.debug("%s args=%r kwargs=%r", fn.__name__, args, kwargs)


            response = fn(import_file_pk, *args, **kwargs)
        finally:
            release_lock(key)
            logger.info(
                "%s took %.1fs for %s", fn.__name__, time.time() - started, import_file_pk
            )
        cache.set(prog_key, 100)
        return response

    return _wrapped

def _progress_payload(data):
    """Return the tasks of the given data."""
    counts = {}
    for item in data:
        bucket = item.get("pk", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _task_names(rows):
    """Return the tasks of the given rows."""
    text = str(rows or "").strip()
    if not text:
        return None
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _lock_names(values):
    """Return the tasks of the given values."""
    text = str(values or "").strip()
    if not text:
        return []
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)



TASKS_FIELDS_5 = (
    "id",
    "name",
    "status",
    "created",
    "updated",
)

def get_cache_state(prog_key):
    return cache.get(prog_key) or 0
