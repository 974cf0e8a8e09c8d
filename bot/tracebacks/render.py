"""Traceback -> canonical CPython traceback text (what `traceback` prints)."""

from __future__ import annotations

from .model import ExceptionBlock, Relation, Traceback

_HEADER = "Traceback (most recent call last):"
_SEPARATORS = {
    Relation.CAUSE: (
        "The above exception was the direct cause of the following exception:"
    ),
    Relation.CONTEXT: (
        "During handling of the above exception, another exception occurred:"
    ),
}


def render(tb: Traceback) -> str:
    """The text CPython would print for `tb` (ExceptionGroups in box form)."""
    return "\n".join(_render_lines(tb)) + "\n"


def _render_lines(tb: Traceback) -> list[str]:
    out: list[str] = []
    for block in tb.blocks:
        if block.relation is not None and out:
            out += ["", _SEPARATORS[block.relation], ""]
        if block.sub_exceptions:
            out += _group_lines(block, "  ")
        else:
            out += _block_lines(block)
    return out


def _block_lines(block: ExceptionBlock, header: str = _HEADER) -> list[str]:
    out: list[str] = []
    if block.frames:
        out.append(header)
    for frame in block.frames:
        line = f'  File "{frame.file or "<unknown>"}", line {frame.line or 0}'
        out.append(
            f"{line}, in {frame.function}" if frame.function is not None else line
        )
        if frame.source:
            out.append(f"    {frame.source.strip()}")
    if block.syntax_error is not None:
        where = block.syntax_error
        out.append(f'  File "{where.file or "<unknown>"}", line {where.line or 0}')
        if where.source:
            out.append(f"    {where.source.strip()}")
    out.append(_exception_line(block))
    out += block.notes
    return out


def _exception_line(block: ExceptionBlock) -> str:
    name = block.type or "<unknown>"
    return f"{name}: {block.message}" if block.message else name


def _group_lines(block: ExceptionBlock, margin: str) -> list[str]:
    """An ExceptionGroup box: the group's own block, then each member."""
    body = _block_lines(block, "Exception Group Traceback (most recent call last):")
    if block.frames:
        body[0] = "+ " + body[0]
        out = [margin + body[0]] + [f"{margin}| {line}" for line in body[1:]]
    else:
        out = [f"{margin}| {line}" for line in body]
    inner = margin + "  "
    count = len(block.sub_exceptions)
    for index, member in enumerate(block.sub_exceptions, 1):
        lead = "+-+" if index == 1 else "+"
        rule = f"{'-' * 16} {index} {'-' * 16}"
        out.append(
            (margin if index == 1 else inner)
            + (lead + rule if index == 1 else "+" + rule)
        )
        for line in _member_lines(member):
            out.append(f"{inner}{line}")
    if count:
        out.append(f"{inner}+{'-' * 36}")
    return out


def _member_lines(tb: Traceback) -> list[str]:
    out: list[str] = []
    for block in tb.blocks:
        if block.relation is not None and out:
            out += ["| ", f"| {_SEPARATORS[block.relation]}", "| "]
        if block.sub_exceptions:
            lines = _group_lines(block, "")
            out += [lines[0].replace("+ Exception Group", "| Exception Group", 1)]
            out += lines[1:]
        else:
            out += [f"| {line}" for line in _block_lines(block)]
    return out
