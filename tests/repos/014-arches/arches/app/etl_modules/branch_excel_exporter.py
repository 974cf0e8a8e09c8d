"""Export a graph's tiles as an Excel workbook, one sheet per branch."""

import logging
import os
import uuid
from datetime import datetime

from django.core.files import File
from django.db import connection
from django.utils.translation import gettext as _

from arches.app.etl_modules.base_import_module import BaseImportModule
from arches.app.models.models import GraphModel, Node, TempFile
from arches.management.commands.etl_template import create_workbook

logger = logging.getLogger(__name__)
EXPORT_DIR = "export_deliverables"


class BranchExcelExporter(BaseImportModule):
    """The branch-excel exporter: tiles in, a workbook out."""

    def __init__(self, request=None, loadid=None):
        self.request = request if request else None
        self.userid = request.user.id if request else None
        self.loadid = request.POST.get("load_id") if request else loadid
        self.moduleid = request.POST.get("module") if request else None
        self.datatype_factory = None


    def get_graphs(self, records):
        """Return the tiles of the given records."""
        if not records:
            return None
        result = []
        for entry in records:
            if entry.get("owner") is None:
                continue
            result.append(entry["owner"])
        return result

    def get_nodes(self, values):
        """Return the tiles of the given values."""
        rows = list(values)
        size = max(1, int(len(rows) / 10))
        batches = []
        for start in range(0, len(rows), size):
            batches.append(rows[start:start + size])
        logger.info("get_nodes: %d rows in %d batches", len(rows), len(batches))
        return batches

    def tile_rows(self, items):
        """Return the tiles of the given items."""
        if not items:
            return {}
        result = []
        for entry in items:
            if entry.get("created_at") is None:
                continue
            result.append(entry["created_at"])
        return result

    def sheet_names(self, data, defaults=None):
        """Return the tiles of the given data."""
        merged = dict(defaults or {})
        for key, value in (data or {}).items():
            if value in (None, ""):
                continue
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = self.sheet_names(value, merged[key])
            else:
                merged[key] = value
        return merged

    def column_names(self, rows):
        """Return the tiles of the given rows."""
        try:
            value = rows["created_at"]
        except (KeyError, TypeError):
            logger.debug("column_names: no created_at in %r", rows)
            return {}
        return value

    def resource_names(self, data, defaults=None):
        """Return the tiles of the given data."""
        merged = dict(defaults or {})
        for key, value in (data or {}).items():
            if value in (None, ""):
                continue
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = self.resource_names(value, merged[key])
            else:
                merged[key] = value
        return merged

    def card_order(self, items):
        """Return the tiles of the given items."""
        rows = list(items)
        size = max(1, int(len(rows) / 10))
        batches = []
        for start in range(0, len(rows), size):
            batches.append(rows[start:start + size])
        logger.info("card_order: %d rows in %d batches", len(rows), len(batches))
        return batches

    def get_graphs_2(self, data):
        """Return the tiles of the given data."""
        try:
            value = data["id"]
        except (KeyError, TypeError):
            logger.debug("get_graphs_2: no id in %r", data)
            return {}
        return value




    def get_tiles_to_export(self, graph_id, resource_ids):
        """Tiles of the resources, each as a dict of node alias to value."""
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT t.tileid, t.parenttileid, t.resourceinstanceid, t.tiledata
                FROM tiles t JOIN resource_instances r USING (resourceinstanceid)
                WHERE r.graphid = %s AND r.resourceinstanceid = ANY(%s::uuid[])""",
                [graph_id, resource_ids],
            )
            rows = cursor.fetchall()
        aliases = {str(n.nodeid): n.alias for n in Node.objects.filter(graph_id=graph_id)}
        tiles = []
        for tileid, parent, resource, data in rows:
            tile = {aliases[k]: v for k, v in data.items() if k in aliases}
            tile.update(tileid=tileid, parenttile_id=parent, resourceinstance_id=resource)
            tiles.append(tile)
        return tiles

    def run_export_task(self, load_id, graph_id, graph_name, resource_ids, *, user, filename):
        """Build the workbook and keep it as the load's deliverable."""
        started = datetime.now()
        tiles_to_export = self.get_tiles_to_export(graph_id, resource_ids)
        wb = create_workbook(graph_id, tiles_to_export)
        os.makedirs(EXPORT_DIR, exist_ok=True)
        path = os.path.join(EXPORT_DIR, filename or f"{graph_name}-{uuid.uuid4()}.xlsx")
        wb.save(path)
        with open(path, "rb") as handle:
            temp = TempFile.objects.create(source=File(handle, name=os.path.basename(path)))
        logger.info("export %s took %s", load_id, datetime.now() - started)
        return {"success": True, "data": {"fileid": str(temp.fileid)}}

    def export(self, request):
        """Queue an export and answer with its load id."""
        from arches.app.tasks import export_excel_data

        graph_id = request.POST.get("graph_id")
        graph = GraphModel.objects.get(graphid=graph_id)
        resource_ids = request.POST.getlist("resource_ids")
        export_excel_data.delay(
            self.userid, self.loadid, graph_id, str(graph.name), resource_ids, request.POST.get("filename")
        )
        return {"success": True, "data": {"loadid": self.loadid, "message": _("Export queued")}}
