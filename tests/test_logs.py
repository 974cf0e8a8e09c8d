"""Our own logs: JSON lines whose fields arrive, and no secret leaves in them."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs

GITHUB_TOKEN = "ghs_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


@pytest.fixture
def captured():
    stream = io.StringIO()
    root = logging.getLogger()
    before = root.handlers[:], root.level
    logs.configure("DEBUG", stream)
    yield stream
    root.handlers[:], level = before
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_extra_fields_reach_the_output(captured):
    logging.getLogger("bot.test").info(
        "webhook.handled", extra={"delivery_id": "d-1", "rate_limit_remaining": 4999}
    )
    (line,) = _lines(captured)
    assert line["event"] == "webhook.handled"
    assert (line["delivery_id"], line["rate_limit_remaining"]) == ("d-1", 4999)
    assert line["level"] == "INFO" and line["logger"] == "bot.test"


def test_secrets_in_fields_and_tracebacks_are_scrubbed(captured):
    log = logging.getLogger("bot.test")
    log.warning("intake.rejected", extra={"reason": f"token {GITHUB_TOKEN}"})
    try:
        raise RuntimeError(f"auth failed for {GITHUB_TOKEN}")
    except RuntimeError:
        log.exception("job.failed", extra={"nested": {"list": [GITHUB_TOKEN]}})
    output = captured.getvalue()
    assert GITHUB_TOKEN not in output
    first, second = _lines(captured)
    assert "REDACTED" in first["reason"]
    assert "REDACTED" in second["exception"] and "RuntimeError" in second["exception"]
    assert "REDACTED" in second["nested"]["list"][0]
