"""An Amazon Bedrock Runtime ``Converse`` stand-in checked against botocore's model.

Point boto3 at it with ``endpoint_url``. Requests are checked against the
``ConverseRequest`` input shape and scripted answers against ``ConverseResponse``;
mismatches land in ``FakeBedrock.violations``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

from .loopback import LoopbackServer

Json = dict[str, Any]


@functools.cache
def converse_operation() -> OperationModel:
    """botocore's own ``bedrock-runtime`` ``Converse`` operation model."""
    data = Loader().load_service_model("bedrock-runtime", "service-2")
    return ServiceModel(data, service_name="bedrock-runtime").operation_model(
        "Converse"
    )


def stop_reasons() -> list[str]:
    return list(converse_operation().output_shape.members["stopReason"].enum)


def _from_wire(shape: Shape, value: Any, path: str, errors: list[str]) -> Any:
    """Turn decoded rest-json into botocore params; note enum violations on the way.

    Blobs travel base64-encoded, and ParamValidator does not check enums, so both
    are handled here.
    """
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for key, item in value.items():
            member = shape.members.get(key)
            out[key] = (
                _from_wire(member, item, f"{path}.{key}", errors) if member else item
            )
        return out
    if kind == "list" and isinstance(value, list):
        return [
            _from_wire(shape.member, item, f"{path}[{i}]", errors)
            for i, item in enumerate(value)
        ]
    if kind == "map" and isinstance(value, dict):
        return {
            k: _from_wire(shape.value, v, f"{path}.{k}", errors)
            for k, v in value.items()
        }
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            errors.append(f"{path}: blob is not valid base64")
            return value
    enum = shape.enum if kind == "string" else None
    if enum and isinstance(value, str) and value not in enum:
        errors.append(f"{path}: {value!r} is not one of {list(enum)}")
    return value


def _validate(shape: Shape, params: Json, label: str) -> list[str]:
    errors: list[str] = []
    params = _from_wire(shape, params, label, errors)
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        errors.extend(report.generate_report().splitlines())
    return errors


def check_request(model_id: str, body: Json) -> list[str]:
    """Problems botocore's ``ConverseRequest`` shape (and Bedrock) would reject."""
    shape = converse_operation().input_shape
    errors = _validate(shape, {**body, "modelId": model_id}, "ConverseRequest")
    messages = body.get("messages")
    if isinstance(messages, list) and messages:
        roles = [m.get("role") for m in messages if isinstance(m, dict)]
        # Service-side rules the shape cannot express.
        if roles and roles[0] != "user":
            errors.append("A conversation must start with a user message.")
        if any(a == b for a, b in itertools.pairwise(roles)):
            errors.append("A conversation must alternate between user and assistant.")
        for i, message in enumerate(messages):
            for j, block in enumerate(message.get("content") or []):
                text = block.get("text") if isinstance(block, dict) else None
                if isinstance(text, str) and not text.strip():
                    errors.append(
                        f"messages.{i}.content.{j}: the text field in the "
                        "ContentBlock object is blank."
                    )
    elif "messages" in body:
        errors.append("messages: at least one message is required.")
    return errors


def check_response(body: Json) -> list[str]:
    """Problems with an answer according to the ``ConverseResponse`` shape."""
    return _validate(converse_operation().output_shape, body, "ConverseResponse")


@dataclass
class Call:
    """One Converse request as the stand-in received it."""

    model_id: str
    body: Json
    headers: dict[str, str]

    @property
    def system(self) -> list[Json]:
        return self.body.get("system", [])

    @property
    def messages(self) -> list[Json]:
        return self.body.get("messages", [])

    @property
    def inference_config(self) -> Json:
        return self.body.get("inferenceConfig", {})


@dataclass
class _Answer:
    status: int
    body: Json
    headers: dict[str, str] = field(default_factory=dict)


class FakeBedrock(LoopbackServer):
    """Answers ``POST /model/{modelId}/converse`` from a FIFO script."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self._script: deque[_Answer] = deque()

    # ----- scripting

    def script(
        self,
        text: str,
        *,
        stop_reason: str = "end_turn",
        input_tokens: int = 1200,
        output_tokens: int = 300,
        latency_ms: int = 850,
    ) -> None:
        """Queue the model's next reply."""
        self.script_raw(
            {
                "output": {
                    "message": {"role": "assistant", "content": [{"text": text}]}
                },
                "stopReason": stop_reason,
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": latency_ms},
            }
        )

    def script_raw(self, body: Json) -> None:
        """Queue an exact 200 body (checked against ``ConverseResponse`` when sent)."""
        self._script.append(_Answer(200, body))

    def script_error(self, status: int, error_type: str, message: str) -> None:
        """Queue an error the way the service sends it (rest-json)."""
        known = {e.name for e in converse_operation().error_shapes}
        if error_type not in known:
            self.violations.append(
                f"scripted error type {error_type!r} is not one Converse declares "
                f"({sorted(known)})"
            )
        self._script.append(
            _Answer(status, {"message": message}, _error_headers(error_type))
        )

    @property
    def pending(self) -> int:
        return len(self._script)

    # ----- lifecycle

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/model/{model_id}/converse", self._converse)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    # ----- HTTP

    async def _unknown(self, request: web.Request) -> web.Response:
        self.violations.append(f"{request.method} {request.path}: not a Converse call")
        return _error(404, "UnknownOperationException", "Unknown operation")

    async def _converse(self, request: web.Request) -> web.Response:
        model_id = request.match_info["model_id"]
        raw = await request.read()
        auth = request.headers.get("Authorization", "")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        self.calls.append(
            Call(
                model_id, body if isinstance(body, dict) else {}, dict(request.headers)
            )
        )
        if not auth.startswith("AWS4-HMAC-SHA256 Credential=") or not (
            request.headers.get("X-Amz-Date")
        ):
            self.violations.append(f"converse {model_id}: request is not SigV4-signed")
            return _error(
                403,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            )
        if not isinstance(body, dict):
            self.violations.append(f"converse {model_id}: body is not a JSON object")
            return _error(400, "ValidationException", "Malformed input request")
        problems = check_request(model_id, body)
        if problems:
            self.violations.extend(
                f"converse {model_id} request: {p}" for p in problems
            )
            return _error(400, "ValidationException", "; ".join(problems))
        if not self._script:
            count = len(self.calls)
            self.violations.append(
                f"converse {model_id}: no scripted answer left (call #{count})"
            )
            return _error(500, "InternalServerException", "No scripted answer left")
        answer = self._script.popleft()
        if answer.status == 200:
            self.violations.extend(
                f"converse {model_id} response: {p}"
                for p in check_response(answer.body)
            )
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), **answer.headers}
        return web.json_response(answer.body, status=answer.status, headers=headers)


def _error_headers(error_type: str) -> dict[str, str]:
    # botocore's rest-json parser reads the code from this header, before any ':'.
    return {
        "x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/"
        "com.amazon.bedrock.runtime/"
    }


def _error(status: int, error_type: str, message: str) -> web.Response:
    headers = {"x-amzn-RequestId": str(uuid.uuid4()), **_error_headers(error_type)}
    return web.json_response({"message": message}, status=status, headers=headers)
