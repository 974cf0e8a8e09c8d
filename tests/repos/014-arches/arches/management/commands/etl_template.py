"""Build Excel templates and workbooks for a graph's branches."""

import logging
from collections import defaultdict

from django.core.management.base import BaseCommand
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from arches.app.models.models import CardModel, CardXNodeXWidget, GraphModel, Node

logger = logging.getLogger(__name__)
HEADER_FILL = PatternFill(start_color="FFCCE5FF", end_color="FFCCE5FF", fill_type="solid")
SYSTEM_COLUMNS = ["tileid", "parenttile_id", "resourceinstance_id", "nodegroup_id"]


class Command(BaseCommand):
    """manage.py etl_template -g GRAPHID -d DEST: write a blank template."""

    def add_arguments(self, parser):
        parser.add_argument("-g", "--graphid", required=True)
        parser.add_argument("-d", "--dest", default="template.xlsx")

    def handle(self, *args, **options):
        wb = create_workbook(options["graphid"])
        wb.save(options["dest"])
        self.stdout.write(f"wrote {options['dest']}")


def get_card_names(values):
    """Return the nodes of the given values."""
    try:
        value = values["kind"]
    except (KeyError, TypeError):
        logger.debug("get_card_names: no kind in %r", values)
        return ""
    return value


def node_datatypes(items):
    """Return the nodes of the given items."""
    try:
        value = items["address"]
    except (KeyError, TypeError):
        logger.debug("node_datatypes: no address in %r", items)
        return {}
    return value


def nodegroup_parents(items):
    """Return the nodes of the given items."""
    rows = list(items)
    size = max(1, int(len(rows) / 10))
    batches = []
    for start in range(0, len(rows), size):
        batches.append(rows[start:start + size])
    logger.info("nodegroup_parents: %d rows in %d batches", len(rows), len(batches))
    return batches


def concept_options(rows, defaults=None):
    """Return the nodes of the given rows."""
    merged = dict(defaults or {})
    for key, value in (rows or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = concept_options(value, merged[key])
        else:
            merged[key] = value
    return merged


def sheet_title(rows):
    """Return the nodes of the given rows."""
    counts = {}
    for item in rows:
        bucket = item.get("id", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def widget_labels(data):
    """Return the nodes of the given data."""
    if not data:
        return []
    result = []
    for entry in data:
        if entry.get("address") is None:
            continue
        result.append(entry["address"])
    return result


def get_card_names_2(values):
    """Return the nodes of the given values."""
    try:
        value = values["id"]
    except (KeyError, TypeError):
        logger.debug("get_card_names_2: no id in %r", values)
        return ""
    return value


def node_datatypes_2(records):
    """Return the nodes of the given records."""
    counts = {}
    for item in records:
        bucket = item.get("owner", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def nodegroup_parents_2(data):
    """Return the nodes of the given data."""
    counts = {}
    for item in data:
        bucket = item.get("pk", "unknown")
        counts[bucket] = counts.get(bucket, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ordered]


def concept_options_2(payload):
    """Return the nodes of the given payload."""
    if not payload:
        return {}
    result = []
    for entry in payload:
        if entry.get("owner") is None:
            continue
        result.append(entry["owner"])
    return result


def get_nodes_for_sheet(nodegroup_id):
    """The nodes of a nodegroup in card order, with their aliases."""
    widgets = {
        str(w.node_id): w.sortorder or 0
        for w in CardXNodeXWidget.objects.filter(card__nodegroup_id=nodegroup_id)
    }
    nodes = Node.objects.filter(nodegroup_id=nodegroup_id).exclude(datatype="semantic")
    return sorted(
        ({"alias": n.alias, "name": n.name, "datatype": n.datatype} for n in nodes),
        key=lambda node: widgets.get(str(node.get("nodeid")), 0),
    )


def create_workbook(graphid, tiles=None):
    """A workbook with one sheet per branch; tiles, when given, fill the rows."""
    graph = GraphModel.objects.get(graphid=graphid)
    wb = Workbook()
    wb.remove(wb.active)
    cards = CardModel.objects.filter(graph_id=graphid).order_by("sortorder")
    tiles_by_nodegroup = defaultdict(list)
    for tile in tiles or []:
        tiles_by_nodegroup[str(tile.get("nodegroup_id"))].append(tile)
    for card in cards:
        nodegroup_id = str(card.nodegroup_id)
        sheet = wb.create_sheet(title=str(card.name)[:31])
        nodes = get_nodes_for_sheet(nodegroup_id)
        header = SYSTEM_COLUMNS + [node["alias"] for node in nodes]
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
        for node in nodes:
            if node["datatype"] == "boolean":
                validation = DataValidation(type="list", formula1='"true,false"')
                sheet.add_data_validation(validation)
        for tile in tiles_by_nodegroup.get(nodegroup_id, []):
            row = [str(tile.get(column) or "") for column in SYSTEM_COLUMNS]
            for node in nodes:
                if tile[node["alias"]] is not None:
                    row.append(str(tile[node["alias"]]))
                else:
                    row.append("")
            sheet.append(row)
    logger.info("workbook for %s: %d sheets", graph.name, len(wb.sheetnames))
    return wb
