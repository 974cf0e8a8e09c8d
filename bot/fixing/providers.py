"""The model seam: one call that takes a prompt and returns text and usage."""

from __future__ import annotations

from collections.abc import Mapping
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
    model: str,
    input_tokens: int,
    output_tokens: int,
    prices: Mapping[str, tuple[float, float]],
) -> float | None:
    """US dollars for some tokens, from per-1k-token prices; None when unpriced."""
    if model not in prices:
        return None
    per_in, per_out = prices[model]
    return round(input_tokens / 1000 * per_in + output_tokens / 1000 * per_out, 6)
