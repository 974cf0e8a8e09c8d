"""Progress counters kept in the Django cache."""

from django.core.cache import cache


def set_cache(key, status, progress):
    cache.set(key, {"status": status, "progress": progress})


def increment_cache(key, step):
    state = cache.get(key) or {"status": "parsing", "progress": 0}
    state["progress"] = min(100, state["progress"] + step)
    cache.set(key, state)
