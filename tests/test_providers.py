"""The model seam: Bedrock through the stand-in, and an OpenAI-compatible endpoint."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from bot.fixing.openai_compat import OpenAICompatibleProvider
from bot.fixing.providers import Completion, ModelError, Turn, estimate_cost
from bot.testing.harness import stand_in_provider

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


async def test_bedrock_sends_system_history_and_prompt(fake_bedrock):
    fake_bedrock.script("## Title\nx", input_tokens=120, output_tokens=30)
    provider = stand_in_provider(fake_bedrock.url)
    completion = await provider.complete(
        system="rules",
        prompt="fix it",
        model=MODEL,
        history=(Turn("user", "first"), Turn("assistant", "answer")),
    )
    assert completion == Completion("## Title\nx", MODEL, 120, 30, "end_turn")
    call = fake_bedrock.calls[0]
    assert call.system == [{"text": "rules"}]
    assert [m["role"] for m in call.messages] == ["user", "assistant", "user"]
    assert call.inference_config["temperature"] == 0.0


async def test_bedrock_throttling_is_retried_by_botocore(fake_bedrock):
    fake_bedrock.script_error(429, "ThrottlingException", "slow down")
    fake_bedrock.script("ok")
    completion = await stand_in_provider(fake_bedrock.url).complete(
        system="s", prompt="p", model=MODEL
    )
    assert completion.text == "ok"
    assert len(fake_bedrock.calls) == 2


async def test_bedrock_refusal_becomes_model_error(fake_bedrock):
    fake_bedrock.script_error(400, "ValidationException", "bad model id")
    with pytest.raises(ModelError, match="ValidationException"):
        await stand_in_provider(fake_bedrock.url).complete(
            system="s", prompt="p", model=MODEL
        )


def test_cost_comes_from_the_price_table():
    assert estimate_cost("m", 2000, 1000, {"m": (0.003, 0.015)}) == pytest.approx(0.021)
    assert estimate_cost("m", 2000, 1000, {}) is None


@pytest.fixture
async def chat_server(aiohttp_server):
    """An OpenAI-compatible endpoint that answers from a script."""
    script: list[tuple[int, object]] = []
    seen: list[dict] = []

    async def completions(request: web.Request) -> web.Response:
        seen.append(
            {"body": await request.json(), "auth": request.headers.get("Authorization")}
        )
        status, body = script.pop(0)
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    server = await aiohttp_server(app)
    return server, script, seen


def _answer(text: str) -> dict:
    return {
        "choices": [
            {"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5},
    }


async def test_openai_compatible_retries_then_answers(chat_server):
    server, script, seen = chat_server
    script += [(503, {"error": "busy"}), (200, _answer("fixed"))]
    async with aiohttp.ClientSession() as session:
        provider = OpenAICompatibleProvider(
            session,
            base_url=str(server.make_url("/v1")),
            api_key="k",
            backoff_seconds=0,
        )
        completion = await provider.complete(system="s", prompt="p", model="local")
    assert completion == Completion("fixed", "local", 11, 5, "stop")
    assert len(seen) == 2 and seen[0]["auth"] == "Bearer k"
    assert [m["role"] for m in seen[0]["body"]["messages"]] == ["system", "user"]


async def test_openai_compatible_client_errors_are_not_retried(chat_server):
    server, script, seen = chat_server
    script.append((400, {"error": "no such model"}))
    async with aiohttp.ClientSession() as session:
        provider = OpenAICompatibleProvider(
            session, base_url=str(server.make_url("/v1")), backoff_seconds=0
        )
        with pytest.raises(ModelError, match="400"):
            await provider.complete(system="s", prompt="p", model="x")
    assert len(seen) == 1


async def test_openai_compatible_unknown_shape_is_a_model_error(chat_server):
    server, script, _ = chat_server
    script.append((200, {"choices": []}))
    async with aiohttp.ClientSession() as session:
        provider = OpenAICompatibleProvider(
            session, base_url=str(server.make_url("/v1"))
        )
        with pytest.raises(ModelError, match="unknown shape"):
            await provider.complete(system="s", prompt="p", model="x")


async def test_the_settings_choose_the_provider():
    from bot.app import model_provider
    from bot.fixing.bedrock import BedrockProvider
    from bot.settings import Settings

    base = Settings(app_id="1", private_key="k", webhook_secret="w")
    openai = Settings(
        app_id="1",
        private_key="k",
        webhook_secret="w",
        model_provider="openai",
        openai_base_url="http://127.0.0.1:1/v1",
    )
    async with aiohttp.ClientSession() as session:
        assert isinstance(model_provider(base, session), BedrockProvider)
        assert isinstance(model_provider(openai, session), OpenAICompatibleProvider)
