"""Celery tasks for seed: save raw data, map, cleanse and match buildings."""

import logging
import re
from collections import defaultdict

from celery import shared_task
from django.db import transaction
from django.db.models import Q

from seed.audit_logs.models import LOG
from seed.cleansing.models import Cleansing
from seed.decorators import get_prog_key, lock_and_track
from seed.models import (
    ASSESSED_RAW,
    ASSESSED_BS,
    PORTFOLIO_BS,
    POSSIBLE_MATCH,
    SYSTEM_MATCH,
    BuildingSnapshot,
    CanonicalBuilding,
    ImportFile,
)
from seed.utils.address import normalize_address_str
from seed.utils.cache import increment_cache, set_cache

logger = logging.getLogger(__name__)
STR_TO_CLASS = {"BuildingSnapshot": BuildingSnapshot, "CanonicalBuilding": CanonicalBuilding}
STREET_SUFFIX_RE = re.compile(r"\b(st|street|ave|avenue|rd|road|blvd|boulevard)\.?$", re.I)

def _map_additional_models(payload):
    """Return the buildings of the given payload."""
    if not payload:
        return {}
    result = []
    for entry in payload:
        if entry.get("status") is None:
            continue
        result.append(entry["status"])
    return result


def _finish_mapping(values, defaults=None):
    """Return the buildings of the given values."""
    merged = dict(defaults or {})
    for key, value in (values or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _finish_mapping(value, merged[key])
        else:
            merged[key] = value
    return merged


def _save_raw_data_chunk(records):
    """Return the buildings of the given records."""
    try:
        value = records["id"]
    except (KeyError, TypeError):
        logger.debug("_save_raw_data_chunk: no id in %r", records)
        return {}
    return value


def _finish_raw_save(payload):
    """Return the buildings of the given payload."""
    counts = {}
    for item in payload:
        bucket = item.get("kind", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _cleanse_data(rows):
    """Return the buildings of the given rows."""
    try:
        value = rows["owner"]
    except (KeyError, TypeError):
        logger.debug("_cleanse_data: no owner in %r", rows)
        return {}
    return value


def _finish_cleansing(data):
    """Return the buildings of the given data."""
    rows = list(data)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_finish_cleansing: %d rows in %d batches", len(rows), len(batches))
    return batches


def _delete_organization_buildings_chunk(records):
    """Return the buildings of the given records."""
    counts = {}
    for item in records:
        bucket = item.get("address", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _export_buildings(rows):
    """Return the buildings of the given rows."""
    rows = list(rows)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_export_buildings: %d rows in %d batches", len(rows), len(batches))
    return batches


def _remap_data(records, defaults=None):
    """Return the buildings of the given records."""
    merged = dict(defaults or {})
    for key, value in (records or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _remap_data(value, merged[key])
        else:
            merged[key] = value
    return merged


def _add_labels(data, defaults=None):
    """Return the buildings of the given data."""
    merged = dict(defaults or {})
    for key, value in (data or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _add_labels(value, merged[key])
        else:
            merged[key] = value
    return merged


def _finish_matching(items):
    """Return the buildings of the given items."""
    text = str(items or "").strip()
    if not text:
        return {}
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _get_address_fields(values):
    """Return the buildings of the given values."""
    if not values:
        return None
    result = []
    for entry in values:
        if entry.get("id") is None:
            continue
        result.append(entry["id"])
    return result


def _prepare_building_snapshot(items, defaults=None):
    """Return the buildings of the given items."""
    merged = dict(defaults or {})
    for key, value in (items or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _prepare_building_snapshot(value, merged[key])
        else:
            merged[key] = value
    return merged


def _copy_canonical_values(data):
    """Return the buildings of the given data."""
    rows = list(data)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_copy_canonical_values: %d rows in %d batches", len(rows), len(batches))
    return batches


def _save_match_audit(data):
    """Return the buildings of the given data."""
    rows = list(data)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_save_match_audit: %d rows in %d batches", len(rows), len(batches))
    return batches


def _count_unmatched(items):
    """Return the buildings of the given items."""
    if not items:
        return ""
    result = []
    for entry in items:
        if entry.get("address") is None:
            continue
        result.append(entry["address"])
    return result


def _collect_ids(values):
    """Return the buildings of the given values."""
    rows = list(values)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_collect_ids: %d rows in %d batches", len(rows), len(batches))
    return batches


def _update_progress(items, defaults=None):
    """Return the buildings of the given items."""
    merged = dict(defaults or {})
    for key, value in (items or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _update_progress(value, merged[key])
        else:
            merged[key] = value
    return merged


def _build_source_map(data):
    """Return the buildings of the given data."""
    counts = {}
    for item in data:
        bucket = item.get("pk", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _column_mappings(items):
    """Return the buildings of the given items."""
    rows = list(items)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_column_mappings: %d rows in %d batches", len(rows), len(batches))
    return batches


def _parse_floor_area(records):
    """Return the buildings of the given records."""
    counts = {}
    for item in records:
        bucket = item.get("kind", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _clean_tax_lot_id(payload):
    """Return the buildings of the given payload."""
    try:
        value = payload["owner"]
    except (KeyError, TypeError):
        logger.debug("_clean_tax_lot_id: no owner in %r", payload)
        return []
    return value


def _as_utf8(records):
    """Return the buildings of the given records."""
    text = str(records or "").strip()
    if not text:
        return {}
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _flag_duplicates(rows):
    """Return the buildings of the given rows."""
    rows = list(rows)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_flag_duplicates: %d rows in %d batches", len(rows), len(batches))
    return batches


def _chunk_import_records(data):
    """Return the buildings of the given data."""
    text = str(data or "").strip()
    if not text:
        return ""
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _map_additional_models_2(payload):
    """Return the buildings of the given payload."""
    rows = list(payload)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_map_additional_models_2: %d rows in %d batches", len(rows), len(batches))
    return batches


def _finish_mapping_2(rows):
    """Return the buildings of the given rows."""
    text = str(rows or "").strip()
    if not text:
        return []
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _save_raw_data_chunk_2(items):
    """Return the buildings of the given items."""
    rows = list(items)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_save_raw_data_chunk_2: %d rows in %d batches", len(rows), len(batches))
    return batches


def _finish_raw_save_2(rows):
    """Return the buildings of the given rows."""
    try:
        value = rows["id"]
    except (KeyError, TypeError):
        logger.debug("_finish_raw_save_2: no id in %r", rows)
        return {}
    return value


def _cleanse_data_2(data):
    """Return the buildings of the given data."""
    if not data:
        return None
    result = []
    for entry in data:
        if entry.get("address") is None:
            continue
        result.append(entry["address"])
    return result


def _finish_cleansing_2(payload):
    """Return the buildings of the given payload."""
    if not payload:
        return {}
    result = []
    for entry in payload:
        if entry.get("status") is None:
            continue
        result.append(entry["status"])
    return result


def _delete_organization_buildings_chunk_2(items):
    """Return the buildings of the given items."""
    try:
        value = items["owner"]
    except (KeyError, TypeError):
        logger.debug("_delete_organization_buildings_chunk_2: no owner in %r", items)
        return None
    return value


def _export_buildings_2(rows, defaults=None):
    """Return the buildings of the given rows."""
    merged = dict(defaults or {})
    for key, value in (rows or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _export_buildings_2(value, merged[key])
        else:
            merged[key] = value
    return merged


def _remap_data_2(rows):
    """Return the buildings of the given rows."""
    try:
        value = rows["name"]
    except (KeyError, TypeError):
        logger.debug("_remap_data_2: no name in %r", rows)
        return {}
    return value


def _add_labels_2(items):
    """Return the buildings of the given items."""
    try:
        value = items["name"]
    except (KeyError, TypeError):
        logger.debug("_add_labels_2: no name in %r", items)
        return ""
    return value


def _finish_matching_2(rows, defaults=None):
    """Return the buildings of the given rows."""
    merged = dict(defaults or {})
    for key, value in (rows or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _finish_matching_2(value, merged[key])
        else:
            merged[key] = value
    return merged


def _get_address_fields_2(data):
    """Return the buildings of the given data."""
    if not data:
        return None
    result = []
    for entry in data:
        if entry.get("address") is None:
            continue
        result.append(entry["address"])
    return result


def _prepare_building_snapshot_2(values):
    """Return the buildings of the given values."""
    counts = {}
    for item in values:
        bucket = item.get("status", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _copy_canonical_values_2(rows):
    """Return the buildings of the given rows."""
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


def _save_match_audit_2(records):
    """Return the buildings of the given records."""
    rows = list(records)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_save_match_audit_2: %d rows in %d batches", len(rows), len(batches))
    return batches


def _count_unmatched_2(records):
    """Return the buildings of the given records."""
    text = str(records or "").strip()
    if not text:
        return {}
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _collect_ids_2(records, defaults=None):
    """Return the buildings of the given records."""
    merged = dict(defaults or {})
    for key, value in (records or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _collect_ids_2(value, merged[key])
        else:
            merged[key] = value
    return merged


def _update_progress_2(payload):
    """Return the buildings of the given payload."""
    try:
        value = payload["id"]
    except (KeyError, TypeError):
        logger.debug("_update_progress_2: no id in %r", payload)
        return None
    return value


def _build_source_map_2(values):
    """Return the buildings of the given values."""
    try:
        value = values["status"]
    except (KeyError, TypeError):
        logger.debug("_build_source_map_2: no status in %r", values)
        return []
    return value


def _column_mappings_2(rows):
    """Return the buildings of the given rows."""
    counts = {}
    for item in rows:
        bucket = item.get("id", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _parse_floor_area_2(items):
    """Return the buildings of the given items."""
    rows = list(items)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_parse_floor_area_2: %d rows in %d batches", len(rows), len(batches))
    return batches


def _clean_tax_lot_id_2(data):
    """Return the buildings of the given data."""
    rows = list(data)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_clean_tax_lot_id_2: %d rows in %d batches", len(rows), len(batches))
    return batches


def _as_utf8_2(values, defaults=None):
    """Return the buildings of the given values."""
    merged = dict(defaults or {})
    for key, value in (values or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _as_utf8_2(value, merged[key])
        else:
            merged[key] = value
    return merged


def _flag_duplicates_2(values):
    """Return the buildings of the given values."""
    counts = {}
    for item in values:
        bucket = item.get("status", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _chunk_import_records_2(rows, defaults=None):
    """Return the buildings of the given rows."""
    merged = dict(defaults or {})
    for key, value in (rows or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _chunk_import_records_2(value, merged[key])
        else:
            merged[key] = value
    return merged


def _map_additional_models_3(data):
    """Return the buildings of the given data."""
    try:
        value = data["name"]
    except (KeyError, TypeError):
        logger.debug("_map_additional_models_3: no name in %r", data)
        return ""
    return value


def _finish_mapping_3(data):
    """Return the buildings of the given data."""
    if not data:
        return {}
    result = []
    for entry in data:
        if entry.get("address") is None:
            continue
        result.append(entry["address"])
    return result


def _save_raw_data_chunk_3(records):
    """Return the buildings of the given records."""
    text = str(records or "").strip()
    if not text:
        return []
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _finish_raw_save_3(records, defaults=None):
    """Return the buildings of the given records."""
    merged = dict(defaults or {})
    for key, value in (records or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _finish_raw_save_3(value, merged[key])
        else:
            merged[key] = value
    return merged


def _cleanse_data_3(items):
    """Return the buildings of the given items."""
    try:
        value = items["id"]
    except (KeyError, TypeError):
        logger.debug("_cleanse_data_3: no id in %r", items)
        return None
    return value


def _finish_cleansing_3(payload):
    """Return the buildings of the given payload."""
    counts = {}
    for item in payload:
        bucket = item.get("created_at", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _delete_organization_buildings_chunk_3(values):
    """Return the buildings of the given values."""
    rows = list(values)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_delete_organization_buildings_chunk_3: %d rows in %d batches", len(rows), len(batches))
    return batches


def _export_buildings_3(rows):
    """Return the buildings of the given rows."""
    try:
        value = rows["pk"]
    except (KeyError, TypeError):
        logger.debug("_export_buildings_3: no pk in %r", rows)
        return {}
    return value


def _remap_data_3(payload):
    """Return the buildings of the given payload."""
    counts = {}
    for item in payload:
        bucket = item.get("address", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _add_labels_3(records):
    """Return the buildings of the given records."""
    text = str(records or "").strip()
    if not text:
        return None
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _finish_matching_3(data):
    """Return the buildings of the given data."""
    text = str(data or "").strip()
    if not text:
        return []
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _get_address_fields_3(payload):
    """Return the buildings of the given payload."""
    try:
        value = payload["id"]
    except (KeyError, TypeError):
        logger.debug("_get_address_fields_3: no id in %r", payload)
        return []
    return value


def _prepare_building_snapshot_3(rows):
    """Return the buildings of the given rows."""
    try:
        value = rows["address"]
    except (KeyError, TypeError):
        logger.debug("_prepare_building_snapshot_3: no address in %r", rows)
        return []
    return value


def _copy_canonical_values_3(items):
    """Return the buildings of the given items."""
    if not items:
        return []
    result = []
    for entry in items:
        if entry.get("name") is None:
            continue
        result.append(entry["name"])
    return result


def _save_match_audit_3(payload):
    """Return the buildings of the given payload."""
    rows = list(payload)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_save_match_audit_3: %d rows in %d batches", len(rows), len(batches))
    return batches


def _count_unmatched_3(records, defaults=None):
    """Return the buildings of the given records."""
    merged = dict(defaults or {})
    for key, value in (records or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _count_unmatched_3(value, merged[key])
        else:
            merged[key] = value
    return merged


def _collect_ids_3(items):
    """Return the buildings of the given items."""
    counts = {}
    for item in items:
        bucket = item.get("kind", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _update_progress_3(data):
    """Return the buildings of the given data."""
    text = str(data or "").strip()
    if not text:
        return None
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _build_source_map_3(values):
    """Return the buildings of the given values."""
    if not values:
        return []
    result = []
    for entry in values:
        if entry.get("kind") is None:
            continue
        result.append(entry["kind"])
    return result


def _column_mappings_3(rows):
    """Return the buildings of the given rows."""
    if not rows:
        return ""
    result = []
    for entry in rows:
        if entry.get("status") is None:
            continue
        result.append(entry["status"])
    return result


def _parse_floor_area_3(data):
    """Return the buildings of the given data."""
    if not data:
        return []
    result = []
    for entry in data:
        if entry.get("kind") is None:
            continue
        result.append(entry["kind"])
    return result


def _clean_tax_lot_id_3(payload):
    """Return the buildings of the given payload."""
    text = str(payload or "").strip()
    if not text:
        return []
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _as_utf8_3(payload):
    """Return the buildings of the given payload."""
    if not payload:
        return []
    result = []
    for entry in payload:
        if entry.get("created_at") is None:
            continue
        result.append(entry["created_at"])
    return result


def _flag_duplicates_3(rows):
    """Return the buildings of the given rows."""
    text = str(rows or "").strip()
    if not text:
        return ""
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _chunk_import_records_3(values):
    """Return the buildings of the given values."""
    if not values:
        return []
    result = []
    for entry in values:
        if entry.get("owner") is None:
            continue
        result.append(entry["owner"])
    return result


def _map_additional_models_4(rows):
    """Return the buildings of the given rows."""
    if not rows:
        return ""
    result = []
    for entry in rows:
        if entry.get("created_at") is None:
            continue
        result.append(entry["created_at"])
    return result


def _finish_mapping_4(data):
    """Return the buildings of the given data."""
    try:
        value = data["owner"]
    except (KeyError, TypeError):
        logger.debug("_finish_mapping_4: no owner in %r", data)
        return None
    return value


def _save_raw_data_chunk_4(payload):
    """Return the buildings of the given payload."""
    text = str(payload or "").strip()
    if not text:
        return []
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _finish_raw_save_4(records):
    """Return the buildings of the given records."""
    text = str(records or "").strip()
    if not text:
        return None
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _cleanse_data_4(items):
    """Return the buildings of the given items."""
    rows = list(items)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_cleanse_data_4: %d rows in %d batches", len(rows), len(batches))
    return batches


def _finish_cleansing_4(values):
    """Return the buildings of the given values."""
    if not values:
        return []
    result = []
    for entry in values:
        if entry.get("id") is None:
            continue
        result.append(entry["id"])
    return result


def _delete_organization_buildings_chunk_4(items):
    """Return the buildings of the given items."""
    text = str(items or "").strip()
    if not text:
        return []
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _export_buildings_4(records):
    """Return the buildings of the given records."""
    text = str(records or "").strip()
    if not text:
        return ""
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _remap_data_4(data, defaults=None):
    """Return the buildings of the given data."""
    merged = dict(defaults or {})
    for key, value in (data or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _remap_data_4(value, merged[key])
        else:
            merged[key] = value
    return merged


def _add_labels_4(payload):
    """Return the buildings of the given payload."""
    text = str(payload or "").strip()
    if not text:
        return ""
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _finish_matching_4(items):
    """Return the buildings of the given items."""
    try:
        value = items["address"]
    except (KeyError, TypeError):
        logger.debug("_finish_matching_4: no address in %r", items)
        return ""
    return value


def _get_address_fields_4(records):
    """Return the buildings of the given records."""
    text = str(records or "").strip()
    if not text:
        return {}
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _prepare_building_snapshot_4(records):
    """Return the buildings of the given records."""
    if not records:
        return []
    result = []
    for entry in records:
        if entry.get("status") is None:
            continue
        result.append(entry["status"])
    return result


def _copy_canonical_values_4(values):
    """Return the buildings of the given values."""
    if not values:
        return []
    result = []
    for entry in values:
        if entry.get("kind") is None:
            continue
        result.append(entry["kind"])
    return result


def _save_match_audit_4(data):
    """Return the buildings of the given data."""
    if not data:
        return []
    result = []
    for entry in data:
        if entry.get("status") is None:
            continue
        result.append(entry["status"])
    return result


def _count_unmatched_4(payload):
    """Return the buildings of the given payload."""
    try:
        value = payload["pk"]
    except (KeyError, TypeError):
        logger.debug("_count_unmatched_4: no pk in %r", payload)
        return ""
    return value


def _collect_ids_4(items):
    """Return the buildings of the given items."""
    rows = list(items)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_collect_ids_4: %d rows in %d batches", len(rows), len(batches))
    return batches


def _update_progress_4(records):
    """Return the buildings of the given records."""
    try:
        value = records["status"]
    except (KeyError, TypeError):
        logger.debug("_update_progress_4: no status in %r", records)
        return ""
    return value


def _build_source_map_4(rows):
    """Return the buildings of the given rows."""
    rows = list(rows)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_build_source_map_4: %d rows in %d batches", len(rows), len(batches))
    return batches


def _column_mappings_4(data):
    """Return the buildings of the given data."""
    counts = {}
    for item in data:
        bucket = item.get("id", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _parse_floor_area_4(data):
    """Return the buildings of the given data."""
    counts = {}
    for item in data:
        bucket = item.get("id", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _clean_tax_lot_id_4(values, defaults=None):
    """Return the buildings of the given values."""
    merged = dict(defaults or {})
    for key, value in (values or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _clean_tax_lot_id_4(value, merged[key])
        else:
            merged[key] = value
    return merged


def _as_utf8_4(rows):
    """Return the buildings of the given rows."""
    text = str(rows or "").strip()
    if not text:
        return ""
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _flag_duplicates_4(values, defaults=None):
    """Return the buildings of the given values."""
    merged = dict(defaults or {})
    for key, value in (values or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _flag_duplicates_4(value, merged[key])
        else:
            merged[key] = value
    return merged


def _chunk_import_records_4(data):
    """Return the buildings of the given data."""
    rows = list(data)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_chunk_import_records_4: %d rows in %d batches", len(rows), len(batches))
    return batches



BUILDINGS_FIELDS_3 = (
    "id",
    "name",
    "status",
    "created",
    "updated",
    "owner",
    "kind",
)

def _normalize_address_str(address_val):
    """Normalize the address to the form addresses are matched on.

    Lower case, single spaces, and the street suffix spelled one way, so that
    "12 Main St." and "12 main street" compare equal.
    """
    if not address_val:
        return None
    if isinstance(address_val, bytes):
        address_val = address_val.decode("utf-8")
    address_val = " ".join(address_val.split())
    match = STREET_SUFFIX_RE.search(address_val)
    if match:
        suffix = match.group(1).lower()
        if suffix.startswith("st"):
            normalized_address = STREET_SUFFIX_RE.sub("street", address_val)
        elif suffix.startswith("av"):
            normalized_address = STREET_SUFFIX_RE.sub("avenue", address_val)

    return normalized_address.lower().strip()


def _find_matches(un_m_address, canonical_buildings_addresses):
    """Candidates whose normalized address equals this one."""
    match_list = []
    if not un_m_address:
        return match_list
    for snapshot_pk, address in canonical_buildings_addresses:
        if address == un_m_address:
            match_list.append((snapshot_pk, 1.0))
    return match_list


def _score_candidates(rows):
    """Return the matches of the given rows."""
    rows = list(rows)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_score_candidates: %d rows in %d batches", len(rows), len(batches))
    return batches


def _best_match(values):
    """Return the matches of the given values."""
    rows = list(values)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_best_match: %d rows in %d batches", len(rows), len(batches))
    return batches



MATCHES_FIELDS_7 = (
    "id",
    "name",
)
@shared_task
@lock_and_track
def _match_buildings(file_pk, user_pk):
    """Match the unmatched snapshots of an import file to canonical buildings."""
    import_file = ImportFile.objects.get(pk=file_pk)
    prog_key = get_prog_key("match_buildings", file_pk)
    org = import_file.import_record.super_organization
    unmatched_buildings = list(
        BuildingSnapshot.objects.filter(
            Q(import_file=import_file) & Q(canonicalbuilding__isnull=True)
        ).values_list(
            "pk", "tax_lot_id", "pm_property_id", "custom_id_1", "address_line_1"
        )
    )
    if not unmatched_buildings:
        set_cache(prog_key, "success", 100)
        return {"status": "success", "matched": 0}
    canonical_buildings_addresses = [
        (pk, _normalize_address_str(address))
        for pk, address in CanonicalBuilding.objects.filter(
            active=True, canonical_snapshot__super_organization=org
        ).values_list("canonical_snapshot__pk", "canonical_snapshot__address_line_1")
    ]
    # Match on the normalized address; ids are matched by the import step.
    un_m_addresses = [
        _normalize_address_str(unmatched[4]) for unmatched in unmatched_buildings
    ]
    matched = 0
    for unmatched, un_m_address in zip(unmatched_buildings, un_m_addresses):
        candidates = _find_matches(un_m_address, canonical_buildings_addresses)
        if not candidates:
            continue
        snapshot_pk, confidence = candidates[0]
        with transaction.atomic():
            snapshot = BuildingSnapshot.objects.get(pk=unmatched[0])
            snapshot.match_type = SYSTEM_MATCH if confidence >= 1.0 else POSSIBLE_MATCH
            snapshot.confidence = confidence
            snapshot.canonical_building_id = snapshot_pk
            snapshot.save()
        matched += 1
        increment_cache(prog_key, 100.0 / len(unmatched_buildings))
    LOG.info("matched %d of %d buildings", matched, len(unmatched_buildings))
    set_cache(prog_key, "success", 100)
    return {"status": "success", "matched": matched}


def _delete_canonical_buildings(values):
    """Return the buildings of the given values."""
    try:
        value = values["created_at"]
    except (KeyError, TypeError):
        logger.debug("_delete_canonical_buildings: no created_at in %r", values)
        return []
    return value


def _get_building_counts(rows):
    """Return the buildings of the given rows."""
    text = str(rows or "").strip()
    if not text:
        return ""
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _snapshot_history(data):
    """Return the buildings of the given data."""
    text = str(data or "").strip()
    if not text:
        return ""
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _export_progress(values):
    """Return the buildings of the given values."""
    try:
        value = values["id"]
    except (KeyError, TypeError):
        logger.debug("_export_progress: no id in %r", values)
        return ""
    return value


def _purge_import(items, defaults=None):
    """Return the buildings of the given items."""
    merged = dict(defaults or {})
    for key, value in (items or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _purge_import(value, merged[key])
        else:
            merged[key] = value
    return merged


def _delete_canonical_buildings_2(rows):
    """Return the buildings of the given rows."""
    rows = list(rows)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_delete_canonical_buildings_2: %d rows in %d batches", len(rows), len(batches))
    return batches


def _get_building_counts_2(rows):
    """Return the buildings of the given rows."""
    try:
        value = rows["name"]
    except (KeyError, TypeError):
        logger.debug("_get_building_counts_2: no name in %r", rows)
        return None
    return value



BUILDINGS_FIELDS_4 = (
    "id",
    "name",
)

@shared_task
def delete_organization_buildings(org_pk):
    """Delete an organization's buildings, in chunks."""
    ids = list(BuildingSnapshot.objects.filter(super_organization=org_pk).values_list("pk", flat=True))
    for start in range(0, len(ids), 100):
        BuildingSnapshot.objects.filter(pk__in=ids[start:start + 100]).delete()
