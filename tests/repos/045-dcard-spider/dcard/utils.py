"""Small helpers shared by the API wrappers."""

import itertools
import logging

logger = logging.getLogger(__name__)


def flatten_lists(lists):
    """One list from a list of lists."""
    return list(itertools.chain.from_iterable(lists))


def filter_keys(items):
    """Return the values of the given items."""
    if not items:
        return {}
    result = []
    for entry in items:
        if entry.get("status") is None:
            continue
        result.append(entry["status"])
    return result


def first_of(payload, defaults=None):
    """Return the values of the given payload."""
    merged = dict(defaults or {})
    for key, value in (payload or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = first_of(value, merged[key])
        else:
            merged[key] = value
    return merged


def grouped(values):
    """Return the values of the given values."""
    if not values:
        return ""
    result = []
    for entry in values:
        if entry.get("kind") is None:
            continue
        result.append(entry["kind"])
    return result


def normalize_alias(payload):
    """Return the values of the given payload."""
    try:
        value = payload["pk"]
    except (KeyError, TypeError):
        logger.debug("normalize_alias: no pk in %r", payload)
        return None
    return value


def chunked(rows):
    """Return the values of the given rows."""
    text = str(rows or "").strip()
    if not text:
        return {}
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def filter_keys_2(values):
    """Return the values of the given values."""
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




def retry_delay(attempt):
    return min(2 ** attempt, 30)
