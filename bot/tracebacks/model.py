"""The traceback model: exception blocks, frames and where they were seen.

Standard library only: this package ships inside the forwarder's Lambda.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Relation(enum.Enum):
    """How a block relates to the block printed before it."""

    CAUSE = "cause"  # "The above exception was the direct cause ..."
    CONTEXT = "context"  # "During handling of the above exception ..."


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame as printed; any field may be missing in a cut log."""

    file: str | None
    line: int | None
    function: str | None
    source: str | None = None
    in_app: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "source": self.source,
            "in_app": self.in_app,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Frame:
        return cls(
            file=_opt(data, "file", str),
            line=_opt(data, "line", int),
            function=_opt(data, "function", str),
            source=_opt(data, "source", str),
            in_app=bool(data.get("in_app", True)),
        )


@dataclass(frozen=True, slots=True)
class Location:
    """Where a SyntaxError points: not a stack frame."""

    file: str | None
    line: int | None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Location:
        return cls(
            file=_opt(data, "file", str),
            line=_opt(data, "line", int),
            source=_opt(data, "source", str),
        )


@dataclass(slots=True)
class ExceptionBlock:
    """One printed exception with its own traceback.

    `type` is qualified as printed (`json.decoder.JSONDecodeError`), or None
    when the text lacks the exception line. `relation` says how this block
    relates to the block printed before it; None for the first block.
    """

    type: str | None
    message: str | None
    frames: list[Frame] = field(default_factory=list)
    relation: Relation | None = None
    syntax_error: Location | None = None
    notes: list[str] = field(default_factory=list)
    # Members of an ExceptionGroup, each a whole traceback of its own.
    sub_exceptions: list[Traceback] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "frames": [f.to_dict() for f in self.frames],
            "relation": self.relation.value if self.relation else None,
            "syntax_error": self.syntax_error.to_dict() if self.syntax_error else None,
            "notes": list(self.notes),
            "sub_exceptions": [t.to_dict() for t in self.sub_exceptions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExceptionBlock:
        relation = data.get("relation")
        syntax_error = data.get("syntax_error")
        return cls(
            type=_opt(data, "type", str),
            message=_opt(data, "message", str),
            frames=[Frame.from_dict(f) for f in _list(data, "frames")],
            relation=Relation(relation) if relation is not None else None,
            syntax_error=Location.from_dict(syntax_error) if syntax_error else None,
            notes=[str(n) for n in _list(data, "notes")],
            sub_exceptions=[
                Traceback.from_dict(t) for t in _list(data, "sub_exceptions")
            ],
        )


@dataclass(slots=True)
class Traceback:
    """A chain of exception blocks in printed order.

    The last block is the exception that propagated. `partial` marks a
    rendering that was cut or lacks its exception line.
    """

    blocks: list[ExceptionBlock]
    partial: bool = False

    @property
    def final(self) -> ExceptionBlock:
        return self.blocks[-1]

    @property
    def chain(self) -> list[ExceptionBlock]:
        """The blocks printed before the final one."""
        return self.blocks[:-1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocks": [b.to_dict() for b in self.blocks],
            "partial": self.partial,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Traceback:
        """Build from `to_dict` output; raise ValueError on a malformed shape."""
        if not isinstance(data, dict):
            raise ValueError("traceback must be an object")
        blocks = [ExceptionBlock.from_dict(b) for b in _list(data, "blocks")]
        if not blocks:
            raise ValueError("traceback has no blocks")
        return cls(blocks=blocks, partial=bool(data.get("partial", False)))


def _opt(data: Any, key: str, kind: type) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"expected an object holding {key!r}")
    value = data.get(key)
    if value is None:
        return None
    if kind is int and isinstance(value, bool):
        raise ValueError(f"{key!r} must be {kind.__name__}")
    if not isinstance(value, kind):
        raise ValueError(f"{key!r} must be {kind.__name__}")
    return value


def _list(data: Any, key: str) -> list[Any]:
    if not isinstance(data, dict):
        raise ValueError(f"expected an object holding {key!r}")
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"{key!r} must be a list")
    return value
