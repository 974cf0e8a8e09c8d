"""The forwarder's handler end to end: subscription events in, bot POSTs out."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from lambda_forwarder import settings as settings_module
from lambda_forwarder.delivery import RetryPolicy
from lambda_forwarder.errors import (
    BotRejectedError,
    DeliveryError,
    SettingMissingError,
)
from lambda_forwarder.handler import LOG_EVENT_NAME, forward, handler
from lambda_forwarder.settings import (
    BOT_URL_ENV,
    KEY_ID_ENV,
    SECRET_ARN_ENV,
    SECRET_ENV,
    Settings,
)
from lambda_forwarder.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_matches,
)

try:  # tests/ is on sys.path (rootdir-relative) or a package
    from test_forwarder_delivery import FakeBot, Sleeps, running_bot
except ImportError:  # pragma: no cover
    from tests.test_forwarder_delivery import FakeBot, Sleeps, running_bot

CASES = Path(__file__).resolve().parent / "cases" / "tracebacks"
SECRET = "handler-test-secret"
KEY_ID = "fwd-1"
FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002)
LOG_GROUP = "/aws/lambda/orders"
LOG_STREAM = "2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef"
T0 = 1_714_560_000_000

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def payload(
    messages: list[str] | list[tuple[int, str]],
    *,
    message_type: str = "DATA_MESSAGE",
    log_group: str = LOG_GROUP,
) -> dict:
    """A subscription event as CloudWatch Logs delivers it."""
    events = []
    for n, item in enumerate(messages):
        timestamp, message = item if isinstance(item, tuple) else (T0 + n, item)
        events.append(
            {"id": str(10**20 + n), "timestamp": timestamp, "message": message}
        )
    decoded = {
        "messageType": message_type,
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": LOG_STREAM,
        "subscriptionFilters": ["self-heal"],
        "logEvents": events,
    }
    data = gzip.compress(json.dumps(decoded).encode())
    return {"awslogs": {"data": base64.b64encode(data).decode()}}


def lambda_error(name: str = "handler", message: str = "'action'", line: int = 36):
    """Lambda's own rendering of an uncaught error: one event, no last line."""
    return (
        f"[ERROR] KeyError: {message}\n"
        "Traceback (most recent call last):\n"
        f'\xa0\xa0File "/var/task/{name}.py", line {line}, in {name}\n'
        f"\xa0\xa0\xa0\xa0result = ACTIONS[event['action']](event['number'])\n"
    )


def logged_error(function: str, exc_type: str = "ValueError", message: str = "bad"):
    """logger.exception() output in Lambda's text format."""
    return (
        "[ERROR]\t2024-05-01T10:00:00.000Z\t6234bffe-149a-b642-81ff-2e8e376d8aff\t"
        "order failed\nTraceback (most recent call last):\n"
        f'  File "/var/task/app/{function}.py", line 12, in {function}\n'
        f"    return process(order)\n"
        f'  File "/var/task/app/steps.py", line 40, in process_{function}\n'
        f"    raise {exc_type}(msg)\n"
        f"{exc_type}: {message}\n"
    )


@pytest.fixture(autouse=True)
def _fresh_secret_cache() -> Iterator[None]:
    settings_module.clear_secret_cache()
    yield
    settings_module.clear_secret_cache()


@pytest.fixture
def bot() -> Iterator[FakeBot]:
    with running_bot() as fake:
        yield fake


def settings_for(bot: FakeBot) -> Settings:
    return Settings(bot_url=bot.url, key_id=KEY_ID, secret=SECRET)


def run(bot: FakeBot, event: dict, **kwargs) -> dict:
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("sleep", Sleeps())
    return forward(event, None, settings=settings_for(bot), **kwargs)


def occurrences(bot: FakeBot) -> list[dict]:
    return [o for body in bot.bodies() for o in body["occurrences"]]


def last_log_line(capsys: pytest.CaptureFixture[str]) -> dict:
    lines = capsys.readouterr().out.strip().splitlines()
    record = json.loads(lines[-1])
    assert record["event"] == LOG_EVENT_NAME
    return record


# -- real payloads ------------------------------------------------------------


def _cases() -> list[Path]:
    return sorted(CASES.glob("*/payload.json"))


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.parent.name[:40])
def test_real_payloads_arrive_whole_and_well_formed(bot: FakeBot, case: Path) -> None:
    event = json.loads(case.read_text())
    expected = json.loads((case.parent / "expected.json").read_text())
    record = run(bot, event)
    assert record["outcome"] == "ok"
    # How many renderings the parser reads is its own tests' business (case
    # 007 holds three of one error); here: at least one, and all of them go.
    assert 1 <= record["tracebacks_found"] <= len(expected["tracebacks"])
    # Nothing dropped: every traceback found is in some posted occurrence.
    posted = occurrences(bot)
    assert sum(o["count"] for o in posted) == record["tracebacks_found"]
    assert record["tracebacks_posted"] == record["tracebacks_found"]
    decoded = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    for body in bot.bodies():
        assert body["log_group"] == decoded["logGroup"]
        assert body["owner"] == decoded["owner"]
    for occurrence in posted:
        assert set(occurrence) == {
            "fingerprint",
            "count",
            "first_seen",
            "last_seen",
            "log_stream",
            "request_id",
            "text",
            "traceback",
        }
        assert occurrence["log_stream"] == decoded["logStream"]
        assert occurrence["first_seen"] <= occurrence["last_seen"]
        timestamps = [e["timestamp"] for e in decoded["logEvents"]]
        assert min(timestamps) <= occurrence["first_seen"] <= max(timestamps)
        assert occurrence["traceback"]["blocks"]
        assert isinstance(occurrence["fingerprint"], str) and occurrence["fingerprint"]
    types = {o["traceback"]["blocks"][-1]["type"] for o in posted}
    expected_types = {t["exc_type"] for t in expected["tracebacks"]}
    assert types <= expected_types


def test_posts_are_signed_with_the_key(bot: FakeBot) -> None:
    run(bot, payload([lambda_error()]))
    [request] = bot.received
    assert request.path == "/api/tracebacks"
    assert request.headers[KEY_ID_HEADER] == KEY_ID
    assert signature_matches(
        SECRET,
        int(request.headers[TIMESTAMP_HEADER]),
        request.body,
        request.headers[SIGNATURE_HEADER],
    )


# -- redaction, dedup, batching -------------------------------------------------


def test_secrets_are_redacted_before_they_leave(bot: FakeBot) -> None:
    message = f"'token {GITHUB_TOKEN} key {AWS_KEY}'"
    run(
        bot,
        payload(
            [
                lambda_error(message=message),
                logged_error(
                    "pay", message=f"login with {AWS_KEY} / {GITHUB_TOKEN} failed"
                ),
            ]
        ),
    )
    raw = b"".join(r.body for r in bot.received)
    assert bot.received
    assert AWS_KEY.encode() not in raw
    assert GITHUB_TOKEN.encode() not in raw
    assert GITHUB_TOKEN[4:].encode() not in raw


def invocation(n: int, message: str, at: int = T0) -> list[tuple[int, str]]:
    """The events of one Lambda invocation that failed with `message`."""
    request_id = f"6234bffe-149a-b642-81ff-{n:012d}"
    return [
        (at, f"START RequestId: {request_id} Version: $LATEST\n"),
        (at, message),
        (at, f"END RequestId: {request_id}\n"),
    ]


def test_identical_tracebacks_go_once_with_count_and_span(bot: FakeBot) -> None:
    times = [T0 + 40, T0, T0 + 10, T0 + 25, T0 + 5]
    events = [e for n, t in enumerate(times) for e in invocation(n, lambda_error(), t)]
    record = run(bot, payload(events))
    assert record["tracebacks_found"] == 5
    [occurrence] = occurrences(bot)
    assert occurrence["count"] == 5
    assert occurrence["first_seen"] == T0
    assert occurrence["last_seen"] == T0 + 40
    assert occurrence["log_stream"] == LOG_STREAM
    assert record["posts"] == 1
    assert record["tracebacks_posted"] == 5


def test_distinct_tracebacks_stay_apart(bot: FakeBot) -> None:
    run(bot, payload([logged_error("orders"), logged_error("refunds", "KeyError")]))
    assert len(occurrences(bot)) == 2


def test_batches_split_at_the_body_limit_and_lose_nothing(bot: FakeBot) -> None:
    messages = []
    for n in range(40):
        text = logged_error(f"step{n}", f"Step{n}Error", "x" * 1_500)
        messages += [(T0 + n, text), (T0 + 100 + n, text)]
    limit = 12_000
    record = run(bot, payload(messages), max_body_bytes=limit)
    assert record["tracebacks_found"] == 80
    assert record["posts"] == len(bot.received) > 1
    assert all(len(r.body) <= limit for r in bot.received)
    posted = occurrences(bot)
    assert len(posted) == 40
    assert sum(o["count"] for o in posted) == 80
    assert {o["traceback"]["blocks"][-1]["type"] for o in posted} == {
        f"Step{n}Error" for n in range(40)
    }
    assert record["bytes"] == sum(len(r.body) for r in bot.received)


def test_default_limit_is_one_megabyte() -> None:
    assert settings_module.MAX_BODY_BYTES == 1_000_000


# -- skipping -------------------------------------------------------------------


def test_control_message_is_ignored(bot: FakeBot, capsys) -> None:
    event = payload(
        ["CWL CONTROL MESSAGE: Checking health of destination"],
        message_type="CONTROL_MESSAGE",
    )
    record = run(bot, event)
    assert record["outcome"] == "control_message"
    assert bot.received == []
    assert last_log_line(capsys)["outcome"] == "control_message"


def test_no_traceback_no_post(bot: FakeBot) -> None:
    record = run(bot, payload(["START RequestId: 1 Version: $LATEST", "all fine"]))
    assert record["outcome"] == "no_tracebacks"
    assert record["events_scanned"] == 2
    assert bot.received == []


# -- failures ---------------------------------------------------------------------


def test_retried_then_accepted_loses_nothing(bot: FakeBot) -> None:
    bot.script = [503, (429, {"Retry-After": "0"}), "drop"]
    record = run(bot, payload([lambda_error(), logged_error("orders")]))
    assert record["outcome"] == "ok"
    assert len(bot.received) == 4
    # Each attempt carried the same body; the accepted one holds both.
    assert len({r.body for r in bot.received}) == 1
    assert sum(o["count"] for o in bot.bodies()[-1]["occurrences"]) == 2


def test_undeliverable_batch_raises_for_lambda_to_retry(bot: FakeBot, capsys) -> None:
    bot.default = 500
    sleeps = Sleeps()
    with pytest.raises(DeliveryError) as caught:
        run(bot, payload([lambda_error()]), sleep=sleeps)
    assert caught.value.attempts == FAST.max_attempts
    assert len(bot.received) == FAST.max_attempts
    assert len(sleeps.waits) == FAST.max_attempts - 1
    record = last_log_line(capsys)
    assert record["outcome"] == "delivery_failed"
    assert record["tracebacks_found"] == 1
    assert record["tracebacks_posted"] == 0


def test_a_later_batch_failing_still_raises(bot: FakeBot) -> None:
    bot.script = [202]
    bot.default = 503
    messages = [logged_error(f"f{n}", f"E{n}Error", "y" * 2_000) for n in range(10)]
    with pytest.raises(DeliveryError):
        run(bot, payload(messages), max_body_bytes=6_000)


def test_4xx_raises_at_once_and_forgets_the_secret(bot: FakeBot, capsys) -> None:
    settings_module._secret_cache[SECRET_ENV] = "stale"
    bot.script = [401]
    with pytest.raises(BotRejectedError):
        run(bot, payload([lambda_error()]))
    assert len(bot.received) == 1
    assert settings_module._secret_cache == {}
    assert last_log_line(capsys)["outcome"] == "rejected"


def test_the_time_left_in_the_invocation_bounds_delivery(bot: FakeBot) -> None:
    bot.default = 503
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 2_000)
    policy = RetryPolicy(max_attempts=50, safety_margin_ms=3_000)
    with pytest.raises(DeliveryError, match="out of time"):
        forward(
            payload([lambda_error()]),
            context,
            settings=settings_for(bot),
            policy=policy,
        )
    assert bot.received == []


def test_a_missing_setting_is_named(monkeypatch, capsys) -> None:
    monkeypatch.delenv(BOT_URL_ENV, raising=False)
    monkeypatch.setenv(KEY_ID_ENV, "k")
    monkeypatch.setenv(SECRET_ENV, "s")
    with pytest.raises(SettingMissingError, match=BOT_URL_ENV):
        handler(payload([lambda_error()]), None)
    assert last_log_line(capsys)["outcome"] == "misconfigured"


# -- the Lambda entry point, env and Secrets Manager ------------------------------


def test_handler_with_the_secret_from_secrets_manager(
    bot: FakeBot, monkeypatch, capsys
) -> None:
    moto = pytest.importorskip("moto")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with moto.mock_aws():
        import boto3

        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="fwd", SecretString="from-sm")["ARN"]
        monkeypatch.setenv(SECRET_ARN_ENV, arn)
        monkeypatch.setenv(BOT_URL_ENV, bot.url)
        monkeypatch.setenv(KEY_ID_ENV, KEY_ID)
        context = SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)
        handler(payload([lambda_error()]), context)
    [request] = bot.received
    assert signature_matches(
        "from-sm",
        int(request.headers[TIMESTAMP_HEADER]),
        request.body,
        request.headers[SIGNATURE_HEADER],
    )
    record = last_log_line(capsys)
    assert record["outcome"] == "ok"


def test_one_json_log_line_per_invocation(bot: FakeBot, capsys) -> None:
    started = time.perf_counter()
    run(bot, payload([lambda_error(), "noise", logged_error("x")]))
    elapsed_ms = (time.perf_counter() - started) * 1000
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert {
        "event",
        "events_scanned",
        "tracebacks_found",
        "tracebacks_posted",
        "posts",
        "bytes",
        "ms",
        "outcome",
    } <= set(record)
    assert record["events_scanned"] == 3
    assert record["tracebacks_found"] == record["tracebacks_posted"] == 2
    assert record["posts"] == 1
    assert record["bytes"] == len(bot.received[0].body)
    assert 0 <= record["ms"] <= elapsed_ms


def test_a_retried_event_carries_the_same_batch_ids(bot: FakeBot) -> None:
    """Lambda retries a failed event whole; the bot must know the bodies again."""
    messages = [
        logged_error(f"step{n}", f"Step{n}Error", "x" * 1_500) for n in range(40)
    ]
    event = payload(messages)
    run(bot, event, max_body_bytes=12_000)
    first = [json.loads(r.body)["batch_id"] for r in bot.received]
    bot.received.clear()
    run(bot, event, max_body_bytes=12_000)
    again = [json.loads(r.body)["batch_id"] for r in bot.received]
    assert len(first) > 1 and len(set(first)) == len(first)
    assert again == first
    bot.received.clear()
    run(bot, payload(messages[:-1]), max_body_bytes=12_000)
    other = {json.loads(r.body)["batch_id"] for r in bot.received}
    assert other.isdisjoint(first)
