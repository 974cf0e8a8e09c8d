"""`self-heal scan`: read logs, group their tracebacks by fingerprint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .tracebacks import (
    ExceptionBlock,
    Found,
    Frame,
    Relation,
    UnreadableInput,
    find_in_events,
    fingerprint,
    read_log_input,
    redact_traceback,
)


@dataclass
class Group:
    fingerprint: str
    found: Found
    count: int = 0
    log_groups: list[str] = field(default_factory=list)


def scan(inputs: list[tuple[str, bytes]]) -> list[Group]:
    """Group every traceback in the named inputs; most frequent first.

    Raises the parser's UnreadableInput, naming the input, for one it cannot
    read.
    """
    groups: dict[str, Group] = {}
    for name, data in inputs:
        try:
            readings = read_log_input(data)
        except UnreadableInput as exc:
            raise UnreadableInput(f"{name}: {exc}") from exc
        for log_group, events in readings:
            for found in find_in_events(events):
                # The parser ties a cut rendering to the whole one beside it.
                fp = found.fingerprint or fingerprint(found.traceback)
                group = groups.get(fp)
                if group is None:
                    group = groups[fp] = Group(fp, found)
                elif _completeness(found) > _completeness(group.found):
                    group.found = found  # show the fullest rendering
                group.count += 1
                if log_group and log_group not in group.log_groups:
                    group.log_groups.append(log_group)
    # Stable: equal counts keep the order they were first seen in.
    return sorted(groups.values(), key=lambda g: -g.count)


def _completeness(found: Found) -> tuple[bool, bool, int]:
    tb = found.traceback
    return (not tb.partial, tb.final.type is not None, len(tb.final.frames))


def as_json(groups: list[Group]) -> dict[str, Any]:
    return {"groups": [_group_json(g) for g in groups]}


def _group_json(group: Group) -> dict[str, Any]:
    tb = redact_traceback(group.found.traceback)
    final = tb.final
    return {
        "fingerprint": group.fingerprint,
        "count": group.count,
        "log_groups": group.log_groups,
        "exception": {"type": final.type, "message": final.message},
        "frames": [_frame_json(f) for f in final.frames],
        # Each earlier block says how it led to the block printed after it.
        "chain": [
            _block_json(block, tb.blocks[n + 1].relation)
            for n, block in enumerate(tb.chain)
        ],
        "partial": tb.partial,
    }


def _block_json(block: ExceptionBlock, to_next: Relation | None) -> dict[str, Any]:
    return {
        "type": block.type,
        "message": block.message,
        "relation": (to_next or Relation.CONTEXT).value,
        "frames": [_frame_json(f) for f in block.frames],
    }


def _frame_json(frame: Frame) -> dict[str, Any]:
    return {
        "file": frame.file,
        "line": frame.line,
        "function": frame.function,
        "in_app": frame.in_app,
    }


def as_text(groups: list[Group]) -> str:
    if not groups:
        return "No tracebacks found.\n"
    lines = []
    for group in groups:
        tb = redact_traceback(group.found.traceback)
        final = tb.final
        message = " ".join((final.message or "").split())
        if len(message) > 100:
            message = message[:99] + "…"
        lines.append(
            f"{group.count:>6}  {group.fingerprint[:12]}  "
            f"{final.type or '(type not logged)'}: {message or '(no message)'}"
        )
        frame = next(
            (f for b in reversed(tb.blocks) for f in reversed(b.frames) if f.in_app),
            None,
        )
        if frame is not None:
            where = f"{frame.file or '?'}:{frame.line or '?'}"
            if frame.function:
                where += f" in {frame.function}"
            lines.append(f"{'':6}  {'':12}  at {where}")
    return "\n".join(lines) + "\n"
