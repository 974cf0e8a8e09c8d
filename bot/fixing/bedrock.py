"""Amazon Bedrock Converse, through boto3, off the event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from .providers import Completion, ModelError, Turn

logger = logging.getLogger(__name__)


class BedrockProvider:
    """Converse with adaptive client-side retries and bounded timeouts."""

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        session: boto3.session.Session | None = None,
        max_attempts: int = 5,
        read_timeout: float = 120.0,
    ) -> None:
        config = botocore.config.Config(
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            connect_timeout=10,
            read_timeout=read_timeout,
        )
        self._client = (session or boto3.session.Session()).client(
            "bedrock-runtime",
            region_name=region,
            endpoint_url=endpoint_url,
            config=config,
        )

    async def complete(
        self,
        *,
        system: str,
        prompt: str,
        model: str,
        history: tuple[Turn, ...] = (),
        max_tokens: int = 4096,
    ) -> Completion:
        messages = [
            {"role": turn.role, "content": [{"text": turn.text}]} for turn in history
        ]
        messages.append({"role": "user", "content": [{"text": prompt}]})
        request = {
            "modelId": model,
            "system": [{"text": system}],
            "messages": messages,
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.0},
        }
        try:
            # boto3 is blocking; a thread keeps webhooks answered meanwhile.
            response = await asyncio.to_thread(self._client.converse, **request)
        except (
            botocore.exceptions.ClientError,
            botocore.exceptions.BotoCoreError,
        ) as exc:
            raise ModelError(f"Bedrock converse failed: {exc}") from exc
        return _completion(response, model)


def _completion(response: dict[str, Any], model: str) -> Completion:
    content = response.get("output", {}).get("message", {}).get("content", [])
    text = "".join(block.get("text", "") for block in content)
    usage = response.get("usage", {})
    stop_reason = response.get("stopReason", "")
    if not text:
        raise ModelError(f"Bedrock answered no text (stop reason {stop_reason!r})")
    return Completion(
        text=text,
        model=model,
        input_tokens=int(usage.get("inputTokens", 0)),
        output_tokens=int(usage.get("outputTokens", 0)),
        stop_reason=stop_reason,
    )
