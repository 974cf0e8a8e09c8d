"""Text -> tracebacks: find every Python traceback printed in a piece of log text.

Reads plain CPython tracebacks, chains, ExceptionGroup boxes, SyntaxError
locations, the Lambda `[ERROR] Type: msg` form, JSON error documents and log
records, escaped (`\\n`) and flattened one-line tracebacks, and tracebacks
whose every line carries a log prefix. Never raises: cut or garbled input is
read as far as it goes and flagged `partial`.

Speed: only short windows of text around a few literal markers (`File "`,
`Traceback (most recent call last)`, JSON keys) get regex work; the rest of a
large log is skipped with `str.find`.
"""

from __future__ import annotations

import ast
import bisect
import json
import re
from dataclasses import dataclass, field

from .fingerprint import fingerprint
from .inapp import is_in_app
from .model import ExceptionBlock, Frame, Location, Relation, Traceback
from .render import render

__all__ = ["Found", "find_tracebacks", "scan"]


@dataclass
class Found:
    """A traceback found in logs, with where it was seen.

    `text` is the traceback as found with log prefixes stripped, for display.
    `fingerprint` is `fingerprint(traceback)`, except that a partial rendering
    whose known parts agree with a complete rendering found in the same input
    takes the complete one's fingerprint.
    """

    traceback: Traceback
    text: str
    timestamp: int | None = None
    log_stream: str | None = None
    request_id: str | None = None
    fingerprint: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(self.traceback)


@dataclass
class Hit:
    """A traceback found at `start` (a character offset) of a scanned text."""

    traceback: Traceback
    text: str
    start: int
    request_id: str | None = None


# --- line shapes -------------------------------------------------------------

HEADER_RE = re.compile(
    r"(?:\+ )?(?:Exception Group )?Traceback \(most recent call last\):?"
)
BOX_HEADER_RE = re.compile(r"(\s*)\+ Exception Group Traceback")
FRAME_RE = re.compile(
    r'\s*File "(?P<file>[^"]*)"'
    r"(?:,?[ \t]*[Ll]ine[ \t]+(?P<line>\d+))?"
    r"(?:,[ \t]*in[ \t](?P<func>\S*))?"
    r"(?P<rest>.*)$"
)
CUT_FRAME_RE = re.compile(r'\s*File "(?P<file>[^"]*)$')
LINE_CONT_RE = re.compile(r"\s*[Ll]ine \d+")
OVERPRINT_RE = re.compile(r'", line (?P<line>\d+), in (?P<func>\S+)\s*$')
MARKER_RE = re.compile(r"[\s~^]+$")
ELISION_RE = re.compile(r"\s*\.\.\.<\d+ lines?>\.\.\.\s*$")
REPEATED_RE = re.compile(r"\s*\[Previous line repeated \d+ more times?\]\s*$")
EXC_RE = re.compile(r"(?P<type>[A-Za-z_][\w.]*)(?:(?P<colon>:)[ \t]?(?P<msg>.*))?$")
EXCEPTIONY_RE = re.compile(
    r"(?:Error|Exception|Warning|Exit|Interrupt|Iteration|Group|Fault|Failure)$"
)
CHAIN_CAUSE = "The above exception was the direct cause of the following exception:"
CHAIN_CONTEXT = "During handling of the above exception, another exception occurred:"
# `msg` runs to the end of the line and is stripped in code: a lazy `.*?\s*$`
# retried the whitespace run at every position (quadratic on padded lines).
LAMBDA_HEADER_RE = re.compile(
    r"(?:^|\s)\[ERROR\] (?P<type>[A-Za-z_][\w.]*)(?:: ?(?P<msg>.*)|\s*)$"
)
# The level starts where an upper-case run starts: searching from inside a
# long run retried the rest of it at every position (quadratic).
LAMBDA_PREFIX_RE = re.compile(
    r"(?<![A-Z])\[?[A-Z]+\]?\t[^\t\n]*\t(?P<rid>[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})\t"
)
REQUEST_ID_RE = re.compile(
    r"RequestId: (?P<rid>[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})"
)
# The exception repr that logging/celery/asyncio print before a traceback:
# (regex up to the opening parenthesis of the arguments, what ends them).
# The arguments are cut with `str.find`, not `.*?`: a lazy run retried from
# every repeated opening was quadratic on a line full of them. None: the
# arguments run to the line's last `)` (celery's `raised unexpected: X(...)`).
REPR_HINT_RES = (
    (re.compile(r"\(<class '(?P<type>[\w.]+)'>, [\w.]+\("), "), <traceback object"),
    (re.compile(r"raised unexpected: (?P<type>[\w.]+)\("), None),
    (re.compile(r"exception=(?P<type>[\w.]+)\("), ")>"),
)
# A line that starts a new log record and so ends an exception message.
LOG_START_RE = re.compile(
    r"\s*(?:\[|\{|\d{4}-\d\d-\d\d|\d\d?/\d\d?/\d{2,4}|\d\d:\d\d:\d\d"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d"
    r"|(?:START|END|REPORT|INIT_START) RequestId"
    r"|(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b)"
)
LEVEL_WORDS = frozenset(
    {"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL", "TRACE"}
    | {"NOTICE", "START", "END", "REPORT", "INIT_START", "Traceback"}
)
SEP_END_RE = re.compile(r"\+-+\s*$")
SYNTAX_TYPE_RE = re.compile(r"(?:SyntaxError|IndentationError|TabError)$")
# get-log-events dumps: a `"message": "..."` field on its own line, and the
# JSON skeleton lines around it, which carry no log text.
MESSAGE_FIELD_RE = re.compile(r'\s*"message"\s*:\s*"(?P<v>(?:[^"\\]|\\.)*)"?')
SKELETON_RE = re.compile(
    r'\s*(?:[\[\]{}]+,?|\.\.\.|"[\w.-]+"\s*:\s*'
    r"(?:-?\d+(?:\.\d+)?|true|false|null|\{|\[)\s*,?)\s*$"
)
JSON_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
# Both start a whitespace run at its first character only: trying every
# position inside a long run was quadratic.
FLAT_SPLIT_RE = re.compile(r'(?<!\s)\s+(?=File ")')
FLAT_FRAME_RE = re.compile(
    r'File "(?P<file>[^"]*)", line (?P<line>\d+), in (?P<func>\S+)(?P<rest>.*)$'
)
FLAT_EXC_RE = re.compile(r"(?:^|(?<=\s\s))(?=(?P<type>[A-Za-z_][\w.]*):(?: |$))")
_LEADING_NBSP_RE = re.compile(r"^[ \xa0]+|(?<=\| )[ \xa0]+")
LINE_START_BRACE_RE = re.compile(r"^[ \t]*\{", re.MULTILINE)

TEXT_TRIGGERS = (
    "Traceback (most recent call last)",
    'File "',
    'File \\"',
    '", line ',
    "+----------------",
)
JSON_TRIGGERS = (
    '"errorType"',
    '"stackTrace"',
    '"stack_trace"',
    '"exc_type"',
    "(most recent call last):\\n",
)
_SKELETON_LEADS = frozenset('{}[]".')
_BACK_LINES = 6
_BACK_SEARCHES = 200
_LINE_ATTEMPTS = 64
_FORWARD_LINES = 30
_MAX_MESSAGE_LINES = 20
_DECODER = json.JSONDecoder()


# --- public ------------------------------------------------------------------


def find_tracebacks(text: str) -> list[Found]:
    """Every traceback in `text`, in order of appearance."""
    hits = scan(text)
    return link([Found(h.traceback, h.text, request_id=h.request_id) for h in hits])


def scan(text: str, *, json_docs: bool = True) -> list[Hit]:
    """Every traceback in `text` with its character offset."""
    try:
        return _scan(text, json_docs)
    except RecursionError:  # pathological nesting: give up on this text only
        return []


def link(founds: list[Found]) -> list[Found]:
    """Give partial renderings the fingerprint of a complete rendering they match."""
    complete = [f for f in founds if not f.traceback.partial]
    for found in founds:
        if not found.traceback.partial:
            continue
        for full in complete:
            if _covers(full.traceback, found.traceback):
                found.fingerprint = full.fingerprint
                break
    return founds


# --- scanning ----------------------------------------------------------------


def _scan(text: str, json_docs: bool) -> list[Hit]:
    if not text:
        return []
    hits: list[Hit] = []
    spans: list[tuple[int, int]] = []
    if json_docs:
        _scan_json(text, hits, spans)
    positions: list[int] = []
    for trigger in TEXT_TRIGGERS:
        pos = text.find(trigger)
        while pos != -1:
            positions.append(pos)
            pos = text.find(trigger, pos + len(trigger))
    if not positions:
        hits.sort(key=lambda h: h.start)
        return hits
    positions.sort()
    region_start = region_end = -1
    spans.sort()
    last = -1  # the last trigger taken into the open region
    for pos in positions:
        if spans and _in_spans(spans, pos):
            continue
        if pos < region_end:
            last = pos
            continue
        if last >= 0:
            # Extend the region from its last trigger only when needed: one
            # `_forward` per region end rather than one per trigger.
            region_end = max(region_end, _forward(text, last, _FORWARD_LINES))
            if pos < region_end:
                last = pos
                continue
        if region_end > region_start >= 0:
            _scan_region(text, region_start, region_end, hits, spans)
        region_start = max(_back(text, pos, _BACK_LINES), region_end, 0)
        region_end = _forward(text, pos, _FORWARD_LINES)
        last = pos
    if last >= 0:
        region_end = max(region_end, _forward(text, last, _FORWARD_LINES))
    if region_end > region_start >= 0:
        _scan_region(text, region_start, region_end, hits, spans)
    hits.sort(key=lambda h: h.start)
    return hits


def _back(text: str, pos: int, lines: int) -> int:
    start = text.rfind("\n", 0, pos) + 1
    for _ in range(lines):
        if start <= 0:
            return 0
        start = text.rfind("\n", 0, start - 1) + 1
    return start


def _forward(text: str, pos: int, lines: int) -> int:
    end = pos
    for _ in range(lines):
        nxt = text.find("\n", end)
        if nxt == -1:
            return len(text)
        end = nxt + 1
    return end


def _in_spans(spans: list[tuple[int, int]], pos: int) -> bool:
    """Whether `pos` is inside one of `spans` (sorted, not overlapping)."""
    index = bisect.bisect_right(spans, (pos, float("inf"))) - 1
    return index >= 0 and spans[index][0] <= pos < spans[index][1]


def _scan_region(
    text: str, start: int, end: int, hits: list[Hit], spans: list[tuple[int, int]]
) -> None:
    raw = text[start:end].split("\n")
    offsets = []
    pos = start
    for line in raw:
        offsets.append(pos)
        pos += len(line) + 1
    vlines: list[str] = []
    origin: list[int] = []
    for index, line in enumerate(raw):
        if spans and _in_spans(spans, offsets[index]):
            continue
        for vline in _virtual_lines(line):
            vlines.append(vline)
            origin.append(index)
    for first, tb, shown, rid in _scan_lines(vlines):
        hits.append(Hit(tb, shown, offsets[origin[first]], rid))


def _virtual_lines(line: str) -> list[str]:
    """One raw line as the log lines it stands for."""
    lines = _split_virtual(line)
    if "\xa0" in line:
        # Lambda indents uncaught-error lines with NBSP; messages keep theirs.
        lines = [_LEADING_NBSP_RE.sub(_spaces, v) for v in lines]
    return lines


def _spaces(match: re.Match[str]) -> str:
    return " " * len(match.group())


def _split_virtual(line: str) -> list[str]:
    if "\\" in line and ("\\n" in line or '\\"' in line):
        field_match = MESSAGE_FIELD_RE.match(line)
        if field_match:
            return unescape(field_match["v"]).splitlines() or [""]
        if "\\n" in line:
            marker = line.find("Traceback (most recent")
            if marker == -1:
                marker = line.find('File \\"')
            if marker != -1:
                return _unescape_around(line, marker)
    elif line.lstrip().startswith('"message"'):
        field_match = MESSAGE_FIELD_RE.match(line)
        if field_match:
            return field_match["v"].splitlines() or [""]
    if line.lstrip()[:1] in _SKELETON_LEADS and SKELETON_RE.match(line):
        return []
    if "\r" in line or "\x0b" in line or "\x0c" in line:
        return line.splitlines() or [""]
    return [line]


def _unescape_around(line: str, marker: int) -> list[str]:
    for match in JSON_STRING_RE.finditer(line):
        if match.start() < marker < match.end():
            before = line[: match.start()]
            body = unescape(match.group()[1:-1]).splitlines()
            return ([before] if before.strip() else []) + body
    # Not inside a JSON string (a cut record, or text escaped by a log shipper).
    return unescape(line).splitlines()


def unescape(value: str) -> str:
    """Undo JSON string escapes, leniently (bad escapes are kept as found)."""

    def repl(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) == 5:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, code)

    return ESCAPE_RE.sub(repl, value)


# --- reading lines -----------------------------------------------------------


def _scan_lines(lines: list[str]) -> list[tuple[int, Traceback, str, str | None]]:
    """(first line index, traceback, display text, request id) for each find."""
    out: list[tuple[int, Traceback, str, str | None]] = []
    n = len(lines)
    i = 0
    floor = 0  # lines before this belong to an earlier find
    while i < n:
        line = lines[i]
        result = None
        if "Traceback (most recent call last)" in line:
            result = _from_header(lines, i, floor)
        elif ("File " in line and FRAME_RE.match(line)) or CUT_FRAME_RE.match(line):
            result = _from_frame(lines, i)
        elif '", line ' in line and 'File "' not in line:
            match = OVERPRINT_RE.search(line)
            if match:
                frame = Frame(None, int(match["line"]), match["func"])
                tb = Traceback([ExceptionBlock(None, None, [frame])], partial=True)
                result = (i, i + 1, tb, line.strip(), None)
        if result is None:
            i += 1
            continue
        first, end, tb, shown, rid = result
        if _worth_reporting(tb):
            out.append((first, tb, shown, rid))
        i = max(end, i + 1)
        floor = i
    return out


def _worth_reporting(tb: Traceback) -> bool:
    for block in tb.blocks:
        if block.type or block.frames or block.syntax_error or block.sub_exceptions:
            return True
    return False


def _shape(prefix: str) -> re.Pattern[str] | None:
    """A regex for a log prefix: the same text with any digits, then one space."""
    core = prefix.rstrip()
    if not core:
        return None
    parts = re.split(r"\d+", core)
    pattern = r"\d+".join(re.escape(p) for p in parts)
    try:
        return re.compile(pattern + r"[ \t]?")
    except re.error:
        return None


def _from_header(lines: list[str], i: int, floor: int):
    line = lines[i]
    match = HEADER_RE.search(line)
    if match is None:
        return None
    prefix = line[: match.start()]
    after = line[match.end() :]
    hint_lines = [prefix, *[lines[j] for j in range(i - 1, max(floor, i - 2) - 1, -1)]]
    if 'File "' in after:
        logical = ["Traceback (most recent call last):", *_unflatten(after)]
        used = 1
        blocks, _, cut, located = _read_chain(logical, 0)
        shown_lines = logical
    else:
        shape = _shape(prefix) if prefix.strip() else None
        if shape is not None and i + 1 < len(lines) and shape.match(lines[i + 1]):
            logical = []
            for j in range(i, len(lines)):
                m = shape.match(lines[j])
                if m is None:
                    break
                logical.append(lines[j][m.end() :])
            blocks, used, cut, located = _read_chain(logical, 0)
            shown_lines = logical[:used]
        else:
            if prefix.strip():
                # The log prefix sits on the header line only: read without it,
                # keeping its trailing indentation (a box's `+` column).
                indent = prefix[len(prefix.rstrip()) :]
                if line[match.start()] == "+" and i + 1 < len(lines):
                    margin = lines[i + 1].find("|")
                    if margin >= 0 and not lines[i + 1][:margin].strip():
                        indent = " " * margin
                lines[i] = indent + line[match.start() :]
            try:
                blocks, end, cut, located = _read_chain(lines, i)
            finally:
                lines[i] = line
            used = end - i
            shown_lines = [line[len(prefix) :] if prefix.strip() else line]
            shown_lines += lines[i + 1 : end]
    # A bare exception line and a chain separator right above the header
    # belong to this traceback (the first exception had no traceback).
    first, blocks, shown_lines = _bare_head(lines, i, floor, blocks, shown_lines)
    if not blocks:
        # A header with nothing after it (Lambda init errors print exactly that).
        blocks = [ExceptionBlock(None, None)]
    partial = cut
    final = blocks[-1]
    lambda_header = None
    for hint in hint_lines[:2]:
        lambda_header = LAMBDA_HEADER_RE.search(hint)
        if lambda_header:
            break
    if final.type is None and lambda_header:
        final.type = lambda_header["type"]
        msg = lambda_header["msg"]
        final.message = msg.rstrip() if msg is not None else None
        if hint_lines[0] is not lambda_header.string:
            shown_lines = [lambda_header.group().strip(), *shown_lines]
        else:
            shown_lines = [prefix.strip(), *shown_lines]
    elif final.type is None:
        partial = True
        for hint in hint_lines:
            found = _type_from_repr(hint)
            if found:
                final.type, final.message = found
                break
    _finish_blocks(blocks)
    tb = Traceback(blocks, partial=partial or not located)
    rid = _request_id(hint_lines)
    return first, i + max(used, 1), tb, "\n".join(shown_lines), rid


def _bare_head(lines, i, floor, blocks, shown_lines):
    j = i - 1
    while j >= floor and not lines[j].strip():
        j -= 1
    if j < floor or not blocks:
        return i, blocks, shown_lines
    relation = _relation(lines[j])
    if relation is None:
        return i, blocks, shown_lines
    k = j - 1
    while k >= floor and not lines[k].strip():
        k -= 1
    if k < floor:
        return i, blocks, shown_lines
    match = EXC_RE.match(lines[k])
    if not match or not _is_type(match["type"], bool(match["colon"])):
        return i, blocks, shown_lines
    head = ExceptionBlock(match["type"], match["msg"] if match["colon"] else None)
    blocks[0].relation = relation
    return k, [head, *blocks], [*lines[k:i], *shown_lines]


def _from_frame(lines: list[str], i: int):
    blocks, end, cut, _ = _read_chain(lines, i)
    if not blocks:
        return None
    first_frames = blocks[0].frames
    # Without a header the top of the traceback is missing, unless this is a
    # SyntaxError location printed on its own (compile error of the main script).
    partial = cut or blocks[-1].type is None
    if first_frames and first_frames[0].function is not None:
        partial = True
    _finish_blocks(blocks)
    if blocks[0].frames and not blocks[0].syntax_error:
        partial = True
    tb = Traceback(blocks, partial=partial)
    return i, end, tb, "\n".join(lines[i:end]), None


def _unflatten(after: str) -> list[str]:
    """Lines of a traceback whose newlines were turned into spaces."""
    out: list[str] = []
    parts = FLAT_SPLIT_RE.split(after)
    segments = parts[1:]
    for index, segment in enumerate(segments):
        match = FLAT_FRAME_RE.match(segment)
        if match is None:
            out.append(segment.strip())
            continue
        out.append(
            f'  File "{match["file"]}", line {match["line"]}, in {match["func"]}'
        )
        rest = match["rest"]
        if index == len(segments) - 1:
            for exc in FLAT_EXC_RE.finditer(rest):
                if _is_type(exc["type"], True):
                    source = rest[: exc.start()].strip()
                    if source:
                        out.append("    " + source)
                    out.append(rest[exc.end() :].strip())
                    break
            else:
                if rest.strip():
                    out.append("    " + rest.strip())
        elif rest.strip():
            out.append("    " + rest.strip())
    return out


def _relation(line: str) -> Relation | None:
    stripped = line.strip()
    if stripped.endswith(CHAIN_CAUSE):
        return Relation.CAUSE
    if stripped.endswith(CHAIN_CONTEXT):
        return Relation.CONTEXT
    return None


def _skip_blank(lines: list[str], k: int) -> int:
    while k < len(lines) and not lines[k].strip():
        k += 1
    return k


def _starts_block(line: str) -> bool:
    if HEADER_RE.match(line.strip()) or BOX_HEADER_RE.match(line):
        return True
    if FRAME_RE.match(line):
        return True
    match = EXC_RE.match(line)
    return bool(match and _is_type(match["type"], bool(match["colon"])))


def _read_chain(lines: list[str], k: int, notes: bool = False):
    """Blocks joined by chain separators from `lines[k]`.

    Returns (blocks, index after the last line used, cut, located) where
    `cut` says a frame was cut and `located` that the start was a header.
    """
    blocks: list[ExceptionBlock] = []
    relation: Relation | None = None
    cut = False
    located = bool(HEADER_RE.search(lines[k])) if k < len(lines) else False
    n = len(lines)
    while k < n:
        box = BOX_HEADER_RE.match(lines[k])
        if box:
            group, k = _read_group(lines, k, len(box.group(1)))
            if group is None:
                break
            group.blocks[0].relation = relation
            blocks.extend(group.blocks)
            cut = cut or group.partial
        else:
            block, k, was_cut = _read_block(lines, k, notes)
            if block is None:
                break
            block.relation = relation
            blocks.append(block)
            cut = cut or was_cut
        j = _skip_blank(lines, k)
        if j < n:
            found = _relation(lines[j])
            if found is not None:
                j2 = _skip_blank(lines, j + 1)
                if j2 < n and _starts_block(lines[j2]):
                    relation = found
                    k = j2
                    continue
        break
    return blocks, k, cut, located


def _read_group(lines: list[str], k: int, col: int):
    """An ExceptionGroup box whose margin is at column `col`."""
    content: list[str] = []
    n = len(lines)
    first = True
    while k < n:
        line = lines[k]
        mark = line[col : col + 1]
        if (first and mark == "+" and line[col : col + 2] != "+-") or mark == "|":
            content.append(line[col + 2 :])
        else:
            break
        first = False
        k += 1
    if not content:
        return None, k
    blocks, _, cut, _ = _read_chain(content, 0, notes=True)
    if not blocks:
        blocks = [ExceptionBlock(None, None)]
    members: list[Traceback] = []
    if k < n and lines[k][col : col + 3] == "+-+":
        inner = col + 2
        k += 1
        while k < n:
            member, k = _read_group(lines, k, inner)
            if member is not None and _worth_reporting(member):
                members.append(member)
            if k >= n:
                break
            line = lines[k]
            if line[inner : inner + 2] == "+-":
                k += 1
                if SEP_END_RE.match(line[inner:]):
                    break
                continue
            break
    blocks[-1].sub_exceptions = members
    _finish_blocks(blocks)
    return Traceback(blocks, partial=cut or blocks[-1].type is None), k


def _read_block(lines: list[str], k: int, notes_mode: bool):
    """One exception block: optional header, frames, exception line, notes."""
    n = len(lines)
    if k < n and HEADER_RE.search(lines[k]):
        k += 1
    frames: list[list] = []  # [file, line, function, source]
    cut = False
    exc_type = message = None
    have_exc = False
    while k < n:
        line = lines[k]
        stripped = line.strip()
        if not stripped or _is_header(line, stripped):
            # A header further down starts the next traceback (Lambda prints
            # uncaught errors without an exception line, so one can follow
            # the last frame directly).
            break
        # Literal guards before each regex: most lines of a long traceback
        # are source lines, and trying every shape on them was most of the
        # cost of a log made of tracebacks.
        has_file = 'File "' in line
        frame = FRAME_RE.match(line) if has_file else None
        if (
            frame
            and frame["line"] is None
            and k + 1 < n
            and frame["rest"].strip() in ("", ",")
            and LINE_CONT_RE.match(lines[k + 1])
        ):
            # A reflowed frame line: `line N, in f` went to the next line.
            joined = line.rstrip().rstrip(",") + ", " + lines[k + 1].strip()
            frame = FRAME_RE.match(joined)
            k += 1
        if frame:
            number = frame["line"]
            source = frame["rest"].strip() or None
            if frame["func"] is None and source and source.startswith(","):
                source = None
            frames.append([frame["file"], int(number) if number else None])
            frames[-1] += [frame["func"], source]
            if number is None:
                cut = True
            k += 1
            continue
        cut_frame = CUT_FRAME_RE.match(line) if has_file else None
        if cut_frame:
            frames.append([cut_frame["file"], None, None, None])
            cut = True
            k += 1
            continue
        if (
            (stripped[0] in "~^" and MARKER_RE.match(line))
            or (stripped.startswith("...") and ELISION_RE.match(line))
            or (stripped.startswith("[Previous") and REPEATED_RE.match(line))
            or stripped == "..."
        ):
            k += 1
            continue
        if line[0] not in " \t":
            exc = EXC_RE.match(line.rstrip())
            if exc and _is_type(exc["type"], bool(exc["colon"])):
                exc_type, message, have_exc = exc["type"], exc["msg"], True
                if not exc["colon"]:
                    message = None
                k += 1
                break
            if frames and _exception_soon(lines, k + 1):
                # A reflowed source line that lost its indentation.
                if frames[-1][3] is None:
                    frames[-1][3] = stripped
                k += 1
                continue
            break
        exc = EXC_RE.match(stripped)
        if (
            exc
            and exc["colon"]
            and EXCEPTIONY_RE.search(exc["type"])
            and not _more_frame_text(lines, k + 1)
        ):
            exc_type, message, have_exc = exc["type"], exc["msg"], True
            k += 1
            break
        if not frames:
            break
        if frames[-1][3] is None:
            frames[-1][3] = stripped
        k += 1
    notes: list[str] = []
    if have_exc:
        # Lines after the exception line: more message, or (inside an
        # ExceptionGroup box, where 3.11+ prints them) add_note() notes. Outside
        # a box the two cannot be told apart; they are kept as message.
        extra: list[str] = []
        while k < n and len(extra) < _MAX_MESSAGE_LINES:
            line = lines[k]
            if not line.strip() or _ends_message(line, notes_mode):
                break
            extra.append(line.strip() if notes_mode else line.rstrip())
            k += 1
        if notes_mode:
            notes = extra
        elif extra:
            message = "\n".join([message, *extra]) if message else "\n".join(extra)
    elif not frames:
        return None, k, cut
    block = ExceptionBlock(
        type=exc_type,
        message=message.strip() or None if message else None,
        frames=[Frame(f[0], f[1], f[2], f[3], is_in_app(f[0])) for f in frames],
        notes=notes,
    )
    return block, k, cut


def _exception_soon(lines: list[str], k: int) -> bool:
    for j in range(k, min(k + 3, len(lines))):
        line = lines[j]
        stripped = line.strip()
        if not stripped or _is_header(line, stripped):
            # Frames under a header belong to that next traceback.
            return False
        if FRAME_RE.match(line):
            return True
        exc = EXC_RE.match(line.strip())
        if exc and exc["colon"] and _is_type(exc["type"], True):
            return True
    return False


def _is_header(line: str, stripped: str) -> bool:
    """Whether `line` holds a traceback header (indented: only at its start)."""
    if "most recent call last" not in line:
        return False
    if line[0] in " \t\xa0":
        # An indented source line may quote a header; a real one leads.
        return bool(HEADER_RE.match(stripped))
    return bool(HEADER_RE.search(line))


def _more_frame_text(lines: list[str], k: int) -> bool:
    """Whether the traceback goes on after `lines[k-1]` (frames or source)."""
    if k >= len(lines):
        return False
    line = lines[k]
    if not line.strip():
        return False
    return bool(FRAME_RE.match(line)) or line[0] in " \t"


def _ends_message(line: str, notes_mode: bool) -> bool:
    if HEADER_RE.search(line) or _relation(line) or FRAME_RE.match(line):
        return True
    if notes_mode:
        return False
    return bool(LOG_START_RE.match(line))


def _is_type(name: str, colon: bool) -> bool:
    if name in LEVEL_WORDS:
        return False
    last = name.rsplit(".", 1)[-1]
    if not last or name.endswith("."):
        return False
    if EXCEPTIONY_RE.search(last):
        return True
    if last[0].isupper():
        return colon or last in ("KeyboardInterrupt", "StopIteration")
    return colon and "." in name


def _finish_blocks(blocks: list[ExceptionBlock]) -> None:
    """Turn a trailing location `File "x", line N` into the SyntaxError location."""
    for block in blocks:
        if block.syntax_error or not block.frames:
            continue
        last = block.frames[-1]
        syntaxy = block.type and SYNTAX_TYPE_RE.search(block.type)
        if last.function is None and last.line is not None and syntaxy:
            block.frames.pop()
            block.syntax_error = Location(last.file, last.line, last.source)


def _type_from_repr(line: str) -> tuple[str, str | None] | None:
    for pattern, closing in REPR_HINT_RES:
        if closing is None:
            stripped = line.rstrip()
            if not stripped.endswith(")"):
                continue
            last = len(stripped) - 1
        else:
            last = line.rfind(closing)
            if last == -1:
                continue
        # The first repr whose arguments close somewhere after it; a later
        # opening cannot end sooner, so one search decides.
        match = pattern.search(line, 0, last)
        if match is None or match.end() > last:
            continue
        end = last if closing is None else line.find(closing, match.end())
        return match["type"], _repr_args(line[match.end() : end])
    return None


def _repr_args(args: str) -> str | None:
    args = args.strip().rstrip(",")
    if not args:
        return None
    try:
        value = ast.literal_eval(args)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return args
    if isinstance(value, tuple):
        return str(value[0]) if len(value) == 1 else str(value)
    return str(value)


def _request_id(hints: list[str]) -> str | None:
    for hint in hints:
        match = LAMBDA_PREFIX_RE.search(hint) or REQUEST_ID_RE.search(hint)
        if match:
            return match["rid"]
    return None


# --- JSON documents ----------------------------------------------------------


def _scan_json(text: str, hits: list[Hit], spans: list[tuple[int, int]]) -> None:
    positions: list[int] = []
    for trigger in JSON_TRIGGERS:
        pos = text.find(trigger)
        while pos != -1:
            positions.append(pos)
            pos = text.find(trigger, pos + len(trigger))
    done_until = -1
    failed: set[int] = set()
    # [backward searches, decode attempts]: both bounded for junk input.
    budget = [_BACK_SEARCHES, 2000 + len(text) // 5000]
    cursors: dict[int, tuple[int, int]] = {}
    for pos in sorted(positions):
        if pos < done_until:
            continue
        doc = _json_doc_at(text, pos, failed, budget, cursors)
        if doc is None:
            continue
        start, end, obj = doc
        found = tracebacks_from_json(obj)
        if not found:
            continue
        spans.append((start, end))
        done_until = end
        for tb, shown, rid in found:
            hits.append(Hit(tb, shown, start, rid))


def _json_doc_at(
    text: str,
    pos: int,
    failed: set[int],
    budget: list[int],
    cursors: dict[int, tuple[int, int]],
):
    """The JSON object spanning `pos`: starting on its line, or pretty-printed above.

    `failed` remembers line starts above that did not decode and `budget`
    bounds the backward searches, so junk full of JSON keys stays linear.
    """
    line_start = text.rfind("\n", 0, pos) + 1
    on_line = text.find("{", line_start, pos) != -1
    # Starts on this line are tried left to right; one that failed (or ended
    # before an earlier trigger) fails for every later trigger too, so each
    # line keeps a cursor (`cursors`) and a cap on attempts.
    resume, attempts = cursors.get(line_start, (line_start, 0))
    brace = text.find("{", resume, pos)
    while brace != -1 and attempts < _LINE_ATTEMPTS and budget[1] > 0:
        attempts += 1
        budget[1] -= 1
        doc = _decode_at(text, brace, pos)
        if doc:
            return doc
        resume = brace + 1
        brace = text.find("{", resume, pos)
    cursors[line_start] = (resume, attempts)
    if on_line or budget[0] <= 0:
        return None
    budget[0] -= 1
    window_start = max(0, line_start - 100_000)
    starts = [
        m.start() for m in LINE_START_BRACE_RE.finditer(text, window_start, line_start)
    ]
    for start in reversed(starts[-40:]):
        brace = text.index("{", start)
        if brace in failed or budget[1] <= 0:
            continue
        budget[1] -= 1
        doc = _decode_at(text, brace, pos)
        if doc:
            return doc
        failed.add(brace)
    return None


def _decode_at(text: str, start: int, pos: int):
    try:
        obj, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    if end <= pos or not isinstance(obj, dict):
        return None
    return start, end, obj


def tracebacks_from_json(
    obj, depth: int = 0
) -> list[tuple[Traceback, str, str | None]]:
    """Tracebacks held by a decoded JSON log record or Lambda error document."""
    if depth > 8:
        return []
    if isinstance(obj, list):
        out = []
        for item in obj[:1000]:
            out.extend(tracebacks_from_json(item, depth + 1))
        return out
    if not isinstance(obj, dict):
        return []
    rid = None
    for key in ("requestId", "aws_request_id", "request_id", "requestid"):
        if isinstance(obj.get(key), str):
            rid = obj[key]
            break
    out: list[tuple[Traceback, str, str | None]] = []
    for key, value in obj.items():
        if key in ("stackTrace", "errorMessage") or not isinstance(value, str):
            continue
        if "Traceback (most recent" in value or 'File "' in value:
            for hit in scan(value, json_docs=False):
                out.append((hit.traceback, hit.text, rid or hit.request_id))
    if out:
        return out
    lambda_doc = _lambda_document(obj)
    if lambda_doc is not None:
        return [(lambda_doc, render(lambda_doc), rid)]
    structured = _structlog(obj.get("exception")) or _powertools(obj)
    if structured is not None:
        return [(structured, render(structured), rid)]
    for value in obj.values():
        if isinstance(value, dict | list):
            out.extend(tracebacks_from_json(value, depth + 1))
    return out


def _lambda_document(obj: dict) -> Traceback | None:
    etype = obj.get("errorType")
    trace = obj.get("stackTrace")
    if not isinstance(etype, str) and not isinstance(trace, list | str):
        return None
    message = obj.get("errorMessage")
    if message is not None and not isinstance(message, str):
        message = json.dumps(message)
    frames = _frames_from_stack(trace)
    if not isinstance(etype, str) and not frames:
        return None
    block = ExceptionBlock(etype if isinstance(etype, str) else None, message, frames)
    return Traceback([block], partial=not isinstance(etype, str))


def _frames_from_stack(trace) -> list[Frame]:
    if isinstance(trace, str):
        trace = [trace]
    if not isinstance(trace, list):
        return []
    frames: list[Frame] = []
    lines: list[str] = []
    for item in trace:
        if isinstance(item, str):
            lines.extend(item.splitlines())
        elif isinstance(item, list) and len(item) >= 3:
            path, number, func = item[0], item[1], item[2]
            source = item[3] if len(item) > 3 and isinstance(item[3], str) else None
            if isinstance(path, str):
                frames.append(
                    Frame(
                        path,
                        number if isinstance(number, int) else None,
                        func if isinstance(func, str) else None,
                        source,
                        is_in_app(path),
                    )
                )
    if lines:
        block, _, _ = _read_block(lines, 0, False)
        if block is not None:
            frames.extend(block.frames)
    return frames


def _structlog(value) -> Traceback | None:
    """structlog's dict tracebacks: a list of {exc_type, exc_value, frames}."""
    if not isinstance(value, list) or not value:
        return None
    blocks = []
    for stack in reversed(value):
        if not isinstance(stack, dict) or "exc_type" not in stack:
            return None
        frames = []
        for raw in stack.get("frames") or []:
            if isinstance(raw, dict):
                path = raw.get("filename")
                path = path if isinstance(path, str) else None
                line = raw.get("lineno")
                func = raw.get("name")
                frames.append(
                    Frame(
                        path,
                        line if isinstance(line, int) else None,
                        func if isinstance(func, str) else None,
                        raw.get("line") if isinstance(raw.get("line"), str) else None,
                        is_in_app(path),
                    )
                )
        etype, evalue = stack.get("exc_type"), stack.get("exc_value")
        blocks.append(
            ExceptionBlock(
                etype if isinstance(etype, str) else None,
                evalue if isinstance(evalue, str) else None,
                frames,
                relation=Relation.CONTEXT if blocks else None,
            )
        )
    return Traceback(blocks)


def _powertools(obj: dict) -> Traceback | None:
    """Powertools `stack_trace` (serialize_stacktrace=True) without `exception`."""
    trace = obj.get("stack_trace")
    if not isinstance(trace, list) or not trace:
        return None
    frames = []
    for raw in trace:
        if not isinstance(raw, dict):
            continue
        path = raw.get("File") if isinstance(raw.get("File"), str) else None
        line = raw.get("Line") if isinstance(raw.get("Line"), int) else None
        func = raw.get("Function") if isinstance(raw.get("Function"), str) else None
        source = raw.get("Statement") if isinstance(raw.get("Statement"), str) else None
        frames.append(Frame(path, line, func, source, is_in_app(path)))
    name = obj.get("exception_name")
    message = obj.get("message")
    block = ExceptionBlock(
        name if isinstance(name, str) else None,
        message if isinstance(message, str) else None,
        frames,
    )
    return Traceback([block], partial=block.type is None)


# --- linking renderings ------------------------------------------------------


def _last_name(name: str | None) -> str | None:
    return name.rsplit(".", 1)[-1] if name else None


def _covers(full: Traceback, part: Traceback) -> bool:
    """Whether every known piece of `part` agrees with `full`, in order."""
    a, b = full.final, part.final
    if b.type and _last_name(a.type) != _last_name(b.type):
        return False
    known = [f for f in b.frames if f.function is not None or f.file]
    if not known:
        return False
    frames = a.frames
    index = 0
    for frame in known:
        while index < len(frames) and not _frame_agrees(frames[index], frame):
            index += 1
        if index == len(frames):
            return False
        index += 1
    return True


def _frame_agrees(full: Frame, part: Frame) -> bool:
    if part.function is not None and part.function != full.function:
        return False
    if part.line is not None and part.line != full.line:
        return False
    if part.file and full.file:
        if part.function is None:
            return full.file.startswith(part.file)
        return part.file == full.file
    return part.function is not None
