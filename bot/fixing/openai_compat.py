"""An OpenAI-compatible chat completions endpoint, for self-hosted models.

vLLM, Ollama, llama.cpp's server and LiteLLM all speak this shape, so a team
that keeps its code off third-party models can still use the bot.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from .providers import Completion, ModelError, Turn

logger = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}


class OpenAICompatibleProvider:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str | None = None,
        max_attempts: int = 4,
        timeout_seconds: float = 120.0,
        backoff_seconds: float = 1.0,
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self._max_attempts = max_attempts
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._backoff = backoff_seconds

    async def complete(
        self,
        *,
        system: str,
        prompt: str,
        model: str,
        history: tuple[Turn, ...] = (),
        max_tokens: int = 4096,
    ) -> Completion:
        messages = [{"role": "system", "content": system}]
        messages += [{"role": t.role, "content": t.text} for t in history]
        messages.append({"role": "user", "content": prompt})
        body = {
            "model": model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0,
        }
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        last_error = "no attempt made"
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._session.post(
                    self._url, json=body, headers=headers, timeout=self._timeout
                ) as response:
                    if response.status in RETRY_STATUSES:
                        last_error = f"HTTP {response.status}"
                    elif response.status >= 400:
                        detail = (await response.text())[:300]
                        raise ModelError(
                            f"model endpoint said {response.status}: {detail}"
                        )
                    else:
                        return _completion(await response.json(), model)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if attempt < self._max_attempts:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        raise ModelError(
            f"model endpoint failed {self._max_attempts} times: {last_error}"
        )


def _completion(data: Any, model: str) -> Completion:
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] or ""
        usage = data.get("usage") or {}
    except (KeyError, IndexError, TypeError) as exc:
        raise ModelError(f"model endpoint answered an unknown shape: {exc!r}") from exc
    if not text:
        raise ModelError("model endpoint answered no text")
    return Completion(
        text=text,
        model=model,
        input_tokens=int(usage.get("prompt_tokens", 0)),
        output_tokens=int(usage.get("completion_tokens", 0)),
        stop_reason=str(choice.get("finish_reason") or ""),
    )
