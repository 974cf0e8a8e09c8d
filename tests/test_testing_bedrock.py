"""The Bedrock stand-in speaks Converse the way botocore expects, and says when not."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bot.testing.bedrock import FakeBedrock, check_request, check_response, stop_reasons

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def _client(url: str) -> Any:
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # Retries would swallow scripted throttling; the app decides on its own.
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def _converse_kwargs(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "modelId": MODEL,
        "system": [{"text": "You fix Python bugs."}],
        "messages": [{"role": "user", "content": [{"text": "Fix this traceback"}]}],
        "inferenceConfig": {"maxTokens": 2048, "temperature": 0.0},
    }
    kwargs.update(overrides)
    return kwargs


async def converse(url: str, **overrides: Any) -> dict[str, Any]:
    """Call Converse through real boto3 from a worker thread (boto3 is sync)."""
    client = _client(url)
    return await asyncio.to_thread(client.converse, **_converse_kwargs(**overrides))


async def test_scripted_answer_round_trips_through_boto3(
    fake_bedrock: FakeBedrock,
) -> None:
    fake_bedrock.script("--- a/x.py\n+++ b/x.py\n", input_tokens=10, output_tokens=5)
    answer = await converse(fake_bedrock.url)
    assert answer["output"]["message"]["content"][0]["text"].startswith("--- a/x.py")
    assert answer["stopReason"] == "end_turn"
    assert answer["usage"] == {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}
    [call] = fake_bedrock.calls
    assert call.model_id == MODEL
    assert call.system == [{"text": "You fix Python bugs."}]
    assert call.messages[0]["role"] == "user"
    assert call.inference_config == {"maxTokens": 2048, "temperature": 0.0}
    assert call.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")


async def test_answers_are_served_in_order(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.script("first")
    fake_bedrock.script("second", stop_reason="max_tokens")
    one = await converse(fake_bedrock.url)
    two = await converse(fake_bedrock.url)
    assert one["output"]["message"]["content"][0]["text"] == "first"
    assert (two["output"]["message"]["content"][0]["text"], two["stopReason"]) == (
        "second",
        "max_tokens",
    )
    assert fake_bedrock.pending == 0


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "ThrottlingException"),
        (400, "ValidationException"),
        (503, "ServiceUnavailableException"),
        (424, "ModelErrorException"),
    ],
)
async def test_errors_surface_as_client_error_with_the_right_code(
    fake_bedrock: FakeBedrock, status: int, code: str
) -> None:
    fake_bedrock.script_error(status, code, "Too many requests, please wait.")
    with pytest.raises(ClientError) as caught:
        await converse(fake_bedrock.url)
    error = caught.value.response
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"] == "Too many requests, please wait."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status


async def test_malformed_answer_is_a_violation() -> None:
    fake = FakeBedrock()
    fake.script_raw(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "x"}]}},
            "stopReason": "finished",
            "metrics": {"latencyMs": 1},
        }
    )
    async with fake.serve() as url:
        await converse(url)
    joined = "\n".join(fake.violations)
    assert "'finished' is not one of" in joined
    assert "usage" in joined


async def test_empty_script_answers_500_and_records_it() -> None:
    fake = FakeBedrock()
    async with fake.serve() as url:
        with pytest.raises(ClientError) as caught:
            await converse(url)
    assert caught.value.response["Error"]["Code"] == "InternalServerException"
    assert any("no scripted answer left" in v for v in fake.violations)


async def test_request_the_service_would_reject_is_a_validation_exception() -> None:
    fake = FakeBedrock()
    fake.script("unused")
    async with fake.serve() as url:
        with pytest.raises(ClientError) as caught:
            # boto3 validates types client-side, so break a service-side rule.
            await converse(
                url,
                messages=[{"role": "assistant", "content": [{"text": "hi"}]}],
            )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert any("must start with a user message" in v for v in fake.violations)
    assert fake.pending == 1


async def test_unsigned_request_is_rejected() -> None:
    import aiohttp

    fake = FakeBedrock()
    async with (
        fake.serve() as url,
        aiohttp.ClientSession() as session,
        session.post(f"{url}/model/{MODEL}/converse", json={}) as resp,
    ):
        assert resp.status == 403
        assert resp.headers["x-amzn-ErrorType"].startswith(
            "MissingAuthenticationTokenException"
        )
    assert any("not SigV4-signed" in v for v in fake.violations)


def test_checkers_use_botocore_model() -> None:
    assert "end_turn" in stop_reasons()
    assert check_request(MODEL, {"messages": "nope"})
    assert check_request(MODEL, _converse_kwargs_without_model()) == []
    assert any(
        "inferenceConfig.maxTokens" in e or "maxTokens" in e
        for e in (
            check_request(
                MODEL,
                {
                    **_converse_kwargs_without_model(),
                    "inferenceConfig": {"maxTokens": 0},
                },
            )
        )
    )
    good = {
        "output": {"message": {"role": "assistant", "content": [{"text": "x"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
        "metrics": {"latencyMs": 1},
    }
    assert check_response(good) == []
    assert check_response({**good, "usage": {"inputTokens": "many"}})


def _converse_kwargs_without_model() -> dict[str, Any]:
    kwargs = _converse_kwargs()
    del kwargs["modelId"]
    return kwargs


def test_unknown_error_type_is_a_violation() -> None:
    fake = FakeBedrock()
    fake.script_error(429, "SlowDownException", "nope")
    assert fake.violations


async def test_default_boto3_retries_ride_out_throttling(
    fake_bedrock: FakeBedrock,
) -> None:
    fake_bedrock.script_error(429, "ThrottlingException", "Too many requests")
    fake_bedrock.script("recovered")
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=fake_bedrock.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 2, "mode": "standard"}),
    )
    answer = await asyncio.to_thread(client.converse, **_converse_kwargs())
    assert answer["output"]["message"]["content"][0]["text"] == "recovered"
    assert len(fake_bedrock.calls) == 2
