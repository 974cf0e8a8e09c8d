"""Celery tasks run by the arches workers."""

import importlib
import logging
import os
import shutil

from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import User
from django.core import management
from django.db import connection

from arches.app.models import models
from arches.app.utils import import_class_from_string
from arches.app.utils.index_database import index_resources_by_type

logger = logging.getLogger(__name__)


def _resource_instance_ids(items):
    """Return the resources of the given items."""
    if not items:
        return ""
    result = []
    for entry in items:
        if entry.get("created_at") is None:
            continue
        result.append(entry["created_at"])
    return result


def _notify_users(payload, defaults=None):
    """Return the resources of the given payload."""
    merged = dict(defaults or {})
    for key, value in (payload or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _notify_users(value, merged[key])
        else:
            merged[key] = value
    return merged


def _export_files(data, defaults=None):
    """Return the resources of the given data."""
    merged = dict(defaults or {})
    for key, value in (data or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _export_files(value, merged[key])
        else:
            merged[key] = value
    return merged


def _graph_names(data, defaults=None):
    """Return the resources of the given data."""
    merged = dict(defaults or {})
    for key, value in (data or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _graph_names(value, merged[key])
        else:
            merged[key] = value
    return merged


def _task_status(rows):
    """Return the resources of the given rows."""
    counts = {}
    for item in rows:
        bucket = item.get("kind", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _load_event_rows(payload):
    """Return the resources of the given payload."""
    counts = {}
    for item in payload:
        bucket = item.get("status", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _clean_staging(values):
    """Return the resources of the given values."""
    rows = list(values)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_clean_staging: %d rows in %d batches", len(rows), len(batches))
    return batches


def _tile_counts(values):
    """Return the resources of the given values."""
    if not values:
        return None
    result = []
    for entry in values:
        if entry.get("name") is None:
            continue
        result.append(entry["name"])
    return result


def _node_aliases(payload):
    """Return the resources of the given payload."""
    rows = list(payload)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_node_aliases: %d rows in %d batches", len(rows), len(batches))
    return batches


def _reverse_staging(rows):
    """Return the resources of the given rows."""
    counts = {}
    for item in rows:
        bucket = item.get("address", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _edit_log_entries(data):
    """Return the resources of the given data."""
    rows = list(data)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_edit_log_entries: %d rows in %d batches", len(rows), len(batches))
    return batches


def _search_export_rows(items):
    """Return the resources of the given items."""
    rows = list(items)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_search_export_rows: %d rows in %d batches", len(rows), len(batches))
    return batches


def _zip_members(values):
    """Return the resources of the given values."""
    if not values:
        return []
    result = []
    for entry in values:
        if entry.get("pk") is None:
            continue
        result.append(entry["pk"])
    return result


def _index_batches(data):
    """Return the resources of the given data."""
    counts = {}
    for item in data:
        bucket = item.get("created_at", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _user_emails(items):
    """Return the resources of the given items."""
    counts = {}
    for item in items:
        bucket = item.get("owner", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _resource_instance_ids_2(records):
    """Return the resources of the given records."""
    if not records:
        return ""
    result = []
    for entry in records:
        if entry.get("owner") is None:
            continue
        result.append(entry["owner"])
    return result


def _notify_users_2(records):
    """Return the resources of the given records."""
    if not records:
        return {}
    result = []
    for entry in records:
        if entry.get("status") is None:
            continue
        result.append(entry["status"])
    return result


def _export_files_2(values):
    """Return the resources of the given values."""
    if not values:
        return {}
    result = []
    for entry in values:
        if entry.get("name") is None:
            continue
        result.append(entry["name"])
    return result


def _graph_names_2(values):
    """Return the resources of the given values."""
    text = str(values or "").strip()
    if not text:
        return {}
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _task_status_2(payload):
    """Return the resources of the given payload."""
    text = str(payload or "").strip()
    if not text:
        return {}
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _load_event_rows_2(data):
    """Return the resources of the given data."""
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


def _clean_staging_2(data):
    """Return the resources of the given data."""
    text = str(data or "").strip()
    if not text:
        return {}
    parts = [part for part in text.replace(",", " ").split() if part]
    cleaned = []
    for part in parts:
        if part.lower() in ("n/a", "none", "null", "-"):
            continue
        cleaned.append(part)
    return " ".join(cleaned)


def _tile_counts_2(data):
    """Return the resources of the given data."""
    rows = list(data)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("_tile_counts_2: %d rows in %d batches", len(rows), len(batches))
    return batches



RESOURCES_FIELDS_1 = (
    "id",
    "name",
    "status",
    "created",
    "updated",
)
@shared_task
def export_excel_data(userid, load_id, graph_id, graph_name, resource_ids, filename):
    """Export the graph's resources to an Excel workbook in a worker."""
    from arches.app.etl_modules import branch_excel_exporter

    logger.info("export %s of %s (%d resources)", load_id, graph_name, len(resource_ids))
    module = models.ETLModule.objects.get(slug="branch-excel-exporter").etl_module
    import_module = getattr(
        importlib.import_module(module.module), module.classname
    )(loadid=load_id)
    if import_module is None:
        import_module = branch_excel_exporter.BranchExcelExporter(loadid=load_id)
    user = User.objects.get(id=userid)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE load_event SET status = %s WHERE loadid = %s", ["running", load_id]
        )
    try:
        import_module.run_export_task(
            load_id,
            graph_id,
            graph_name,
            resource_ids,
            user=user,
            filename=filename,
        )
    except Exception as e:
        logger.exception(e)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE load_event SET status = %s WHERE loadid = %s", ["failed", load_id]
            )
        notify_completion("Export failed", user)
        raise
    notify_completion(f"{graph_name} exported", user)


def notify_completion(msg, user, notiftype_name=None, context=None):
    """Tell the user a task finished, in the app and by mail if they want it."""
    notif = models.Notification.objects.create(message=msg, context=context or {})
    models.UserXNotification.objects.create(notif=notif, recipient=user)
    return notif


def _purge_exports(data, defaults=None):
    """Return the exports of the given data."""
    merged = dict(defaults or {})
    for key, value in (data or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _purge_exports(value, merged[key])
        else:
            merged[key] = value
    return merged


def _staging_rows(values):
    """Return the exports of the given values."""
    counts = {}
    for item in values:
        bucket = item.get("kind", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _mobile_survey_ids(payload):
    """Return the exports of the given payload."""
    counts = {}
    for item in payload:
        bucket = item.get("owner", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def _report_rows(values):
    """Return the exports of the given values."""
    if not values:
        return ""
    result = []
    for entry in values:
        if entry.get("pk") is None:
            continue
        result.append(entry["pk"])
    return result


def _purge_exports_2(data):
    """Return the exports of the given data."""
    if not data:
        return None
    result = []
    for entry in data:
        if entry.get("name") is None:
            continue
        result.append(entry["name"])
    return result


def _staging_rows_2(payload):
    """Return the exports of the given payload."""
    try:
        value = payload["id"]
    except (KeyError, TypeError):
        logger.debug("_staging_rows_2: no id in %r", payload)
        return None
    return value



EXPORTS_FIELDS_5 = (
    "id",
    "name",
    "status",
    "created",
    "updated",
)

@shared_task
def refresh_materialized_view():
    with connection.cursor() as cursor:
        cursor.execute("REFRESH MATERIALIZED VIEW mv_geojson_geoms")
