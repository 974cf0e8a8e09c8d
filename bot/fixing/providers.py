"""The model seam: one call that takes a prompt and returns text and usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    input_tokens: int
    output_tokens: int
    stop_reason: str


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation, for a repair round."""

    role: str  # "user" or "assistant"
    text: str


class ModelError(Exception):
    """The model could not be asked or gave no usable answer."""


class ModelProvider(Protocol):
    async def complete(
        self,
        *,
        system: str,
        prompt: str,
        model: str,
        history: tuple[Turn, ...] = (),
        max_tokens: int = 4096,
    ) -> Completion:
        """Ask the model; raise ModelError when it cannot answer."""
        ...


def estimate_cost(
    completion: Completion, prices: dict[str, tuple[float, float]] | None
) -> float | None:
    """US dollars for one call, from per-1k-token prices; None when unpriced."""
    if not prices or completion.model not in prices:
        return None
    per_in, per_out = prices[completion.model]
    return round(
        completion.input_tokens / 1000 * per_in
        + completion.output_tokens / 1000 * per_out,
        6,
    )
