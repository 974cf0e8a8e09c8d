"""Batching and retried, signed delivery of the forwarder, against a loopback bot."""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lambda_forwarder import delivery
from lambda_forwarder import settings as settings_module
from lambda_forwarder.delivery import (
    TRUNCATION_MARK,
    Occurrence,
    RetryPolicy,
    _retry_after,
    build_batches,
    close_connections,
    deliver,
)
from lambda_forwarder.errors import (
    BotRejectedError,
    DeliveryError,
    SettingMissingError,
)
from lambda_forwarder.settings import (
    BOT_URL_ENV,
    KEY_ID_ENV,
    SECRET_ARN_ENV,
    SECRET_ENV,
    load_settings,
)
from lambda_forwarder.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_matches,
)

SECRET = "s3cret-for-tests"
KEY_ID = "key-1"
# Tiny delays: the tests count retries, they do not wait for them.
FAST = RetryPolicy(
    max_attempts=5, base_delay=0.001, max_delay=0.004, request_timeout=2.0
)


@dataclass
class Received:
    """One request as the fake bot saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeBot:
    """A loopback HTTP server playing the bot, answering from a script.

    Each script step is consumed by one request: an int status, a tuple
    (status, headers), ("slow", seconds) to stall before answering 202, or
    "drop" to close the connection without an answer. Past the script it
    answers `default`.
    """

    script: list = field(default_factory=list)
    default: int = 202
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def next_step(self):
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def bodies(self) -> list[dict]:
        return [json.loads(r.body) for r in self.received]


def _handler_for(bot: FakeBot) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with bot.lock:
                bot.received.append(Received(self.path, dict(self.headers), body))
            step = bot.next_step()
            if step == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            headers: dict[str, str] = {}
            if isinstance(step, tuple) and step[0] == "slow":
                time.sleep(step[1])
                step = 202
            elif isinstance(step, tuple):
                step, headers = step
            answer = json.dumps({"status": step}).encode()
            self.send_response(step)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    # A "slow" answer is written after the client gave up: the broken pipe is
    # the point of that test, not an error to print over pytest's output.
    daemon_threads = False
    block_on_close = True

    def handle_error(self, request, client_address) -> None:
        pass


@contextmanager
def running_bot() -> Iterator[FakeBot]:
    """Start a FakeBot on a free loopback port; stop it on exit."""
    fake = FakeBot()
    fake.server = _QuietServer(("127.0.0.1", 0), _handler_for(fake))
    thread = threading.Thread(
        target=fake.server.serve_forever, args=(0.02,), daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        # Our kept-alive connection would hold a handler thread open for ever.
        close_connections()
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(5)


@pytest.fixture
def bot() -> Iterator[FakeBot]:
    with running_bot() as fake:
        yield fake


class Sleeps:
    """Stands in for time.sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _deliver(bot: FakeBot, body: bytes = b'{"x":1}', **kwargs) -> int:
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("deadline", time.monotonic() + 30)
    return deliver(
        bot.url + "/api/tracebacks", body, key_id=KEY_ID, secret=SECRET, **kwargs
    )


def test_accepted_at_once_is_one_signed_post(bot: FakeBot) -> None:
    body = json.dumps({"occurrences": []}).encode()
    assert _deliver(bot, body) == 1
    [request] = bot.received
    assert request.path == "/api/tracebacks"
    assert request.body == body
    assert request.headers[KEY_ID_HEADER] == KEY_ID
    assert request.headers["Content-Type"] == "application/json"
    timestamp = int(request.headers[TIMESTAMP_HEADER])
    assert abs(timestamp - time.time()) < 60
    signature = request.headers[SIGNATURE_HEADER]
    assert signature_matches(SECRET, timestamp, body, signature)
    assert not signature_matches("other", timestamp, body, signature)


def test_a_warm_container_reuses_its_connection(bot: FakeBot) -> None:
    body = b"{}"
    assert _deliver(bot, body) == 1
    assert len(delivery._connections) == 1
    assert _deliver(bot, body) == 1
    assert len(bot.received) == 2 and len(delivery._connections) == 1


def test_a_connection_the_bot_closed_is_replaced_not_retried(bot: FakeBot) -> None:
    """A kept-alive socket may be dead by the next invocation: the POST goes
    out on a fresh connection at once, and it counts as the first attempt."""
    assert _deliver(bot, b"{}") == 1
    (connection,) = delivery._connections.values()
    connection.sock.close()
    assert _deliver(bot, b"{}") == 1
    assert len(bot.received) == 2


def test_200_is_success_too(bot: FakeBot) -> None:
    bot.script = [200]
    assert _deliver(bot) == 1


def test_5xx_is_retried_with_full_jitter_until_accepted(bot: FakeBot) -> None:
    bot.script = [500, 502, 503, 504]
    sleeps = Sleeps()
    assert _deliver(bot, sleep=sleeps, jitter=lambda: 1.0) == 5
    assert len(bot.received) == 5
    # Exponential, capped: 1, 2, 4, then 4 ms (max_delay).
    assert sleeps.waits == pytest.approx([0.001, 0.002, 0.004, 0.004])
    sleeps = Sleeps()
    bot.script = [503]
    _deliver(bot, sleep=sleeps, jitter=lambda: 0.25)
    assert sleeps.waits == pytest.approx([0.00025])


def test_every_attempt_is_signed_afresh_and_verifies(bot: FakeBot) -> None:
    bot.script = [503, 503]
    body = b'{"occurrences":[1]}'
    _deliver(bot, body, sleep=Sleeps())
    assert len(bot.received) == 3
    for request in bot.received:
        timestamp = int(request.headers[TIMESTAMP_HEADER])
        assert signature_matches(
            SECRET, timestamp, request.body, request.headers[SIGNATURE_HEADER]
        )


def test_429_honours_retry_after(bot: FakeBot) -> None:
    bot.script = [(429, {"Retry-After": "2"}), (503, {"Retry-After": "1"})]
    sleeps = Sleeps()
    assert _deliver(bot, sleep=sleeps) == 3
    assert sleeps.waits[0] >= 2
    assert sleeps.waits[1] >= 1


def test_retry_after_as_http_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= _retry_after(format_datetime(later, usegmt=True)) <= 30
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert _retry_after("soon") is None
    assert _retry_after(None) is None


def test_retry_after_beyond_the_deadline_raises_without_waiting(
    bot: FakeBot,
) -> None:
    bot.script = [(429, {"Retry-After": "120"})]
    sleeps = Sleeps()
    with pytest.raises(DeliveryError, match="outlive the invocation") as caught:
        _deliver(bot, sleep=sleeps, deadline=time.monotonic() + 10)
    assert sleeps.waits == []
    assert caught.value.attempts == 1
    assert caught.value.status == 429


def test_persistent_5xx_raises_after_max_attempts(bot: FakeBot) -> None:
    bot.default = 503
    sleeps = Sleeps()
    with pytest.raises(DeliveryError, match="HTTP 503") as caught:
        _deliver(bot, sleep=sleeps)
    assert caught.value.attempts == FAST.max_attempts
    assert len(bot.received) == FAST.max_attempts
    assert len(sleeps.waits) == FAST.max_attempts - 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_4xx_is_misconfiguration_logged_and_raised_at_once(
    bot: FakeBot, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    bot.script = [status]
    with (
        caplog.at_level(logging.ERROR, "lambda_forwarder.delivery"),
        pytest.raises(BotRejectedError) as caught,
    ):
        _deliver(bot, sleep=Sleeps())
    assert caught.value.status == status
    assert len(bot.received) == 1
    assert any(str(status) in r.getMessage() for r in caplog.records)


def test_a_redirect_is_not_followed(bot: FakeBot) -> None:
    bot.script = [(302, {"Location": "/elsewhere"})]
    with pytest.raises(BotRejectedError):
        _deliver(bot, sleep=Sleeps())
    assert len(bot.received) == 1


def test_dropped_connections_are_retried(bot: FakeBot) -> None:
    bot.script = ["drop", "drop"]
    sleeps = Sleeps()
    assert _deliver(bot, sleep=sleeps) == 3
    assert len(sleeps.waits) == 2


def test_timeouts_are_retried(bot: FakeBot) -> None:
    bot.script = [("slow", 1.0)]
    policy = RetryPolicy(max_attempts=3, base_delay=0.001, request_timeout=0.2)
    assert _deliver(bot, policy=policy, sleep=Sleeps()) == 2


def test_connection_refused_ends_in_delivery_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    with pytest.raises(DeliveryError, match="gave up after 5 attempts"):
        deliver(
            f"http://127.0.0.1:{port}/api/tracebacks",
            b"{}",
            key_id=KEY_ID,
            secret=SECRET,
            deadline=time.monotonic() + 30,
            policy=FAST,
            sleep=sleeps,
        )
    assert len(sleeps.waits) == 4


def test_no_time_left_means_no_attempt(bot: FakeBot) -> None:
    with pytest.raises(DeliveryError, match="out of time"):
        _deliver(bot, deadline=time.monotonic() + 0.1)
    assert bot.received == []


def _occurrence(n: int, text_size: int = 200) -> Occurrence:
    return Occurrence(
        fingerprint=f"fp{n}",
        count=n % 3 + 1,
        first_seen=1_700_000_000_000 + n,
        last_seen=1_700_000_000_000 + n + 5,
        log_stream="2024/01/01/[$LATEST]abc",
        request_id=None,
        text=f"Traceback {n}\n" + "x" * text_size,
        traceback={"blocks": [{"type": "KeyError", "message": "'k'"}], "partial": 0},
    )


def test_batches_split_at_the_body_limit_and_keep_everything() -> None:
    occurrences = [_occurrence(n, text_size=150 + n * 7) for n in range(60)]
    limit = 2_000
    batches = build_batches("/aws/lambda/orders", "123456789012", occurrences, limit)
    assert len(batches) > 1
    assert all(len(b.body) <= limit for b in batches)
    fingerprints = []
    for batch in batches:
        decoded = json.loads(batch.body)
        assert decoded["log_group"] == "/aws/lambda/orders"
        assert decoded["owner"] == "123456789012"
        assert [o["fingerprint"] for o in decoded["occurrences"]] == [
            o.fingerprint for o in batch.occurrences
        ]
        fingerprints += [o["fingerprint"] for o in decoded["occurrences"]]
    assert fingerprints == [o.fingerprint for o in occurrences]
    assert sum(b.tracebacks for b in batches) == sum(o.count for o in occurrences)
    # Greedy in order: no batch could have taken the next batch's first one.
    for batch, following in itertools.pairwise(batches):
        grown = build_batches(
            "/aws/lambda/orders",
            "123456789012",
            [*batch.occurrences, following.occurrences[0]],
            limit,
        )
        assert len(grown) == 2


def test_one_batch_when_all_fit() -> None:
    batches = build_batches("g", "o", [_occurrence(n) for n in range(5)])
    assert len(batches) == 1
    assert len(json.loads(batches[0].body)["occurrences"]) == 5


def test_an_occurrence_exactly_at_the_limit_fits() -> None:
    probe = build_batches("g", "o", [_occurrence(1)], 10_000)[0].body
    exact = build_batches("g", "o", [_occurrence(1)], len(probe))
    assert exact[0].body == probe
    assert TRUNCATION_MARK not in exact[0].body.decode()


def test_an_oversized_occurrence_is_cut_not_dropped() -> None:
    big = _occurrence(1, text_size=50_000)
    big.traceback["blocks"][0]["message"] = "m" * 40_000
    batches = build_batches("g", "o", [_occurrence(0), big, _occurrence(2)], 20_000)
    assert all(len(b.body) <= 20_000 for b in batches)
    posted = [o for b in batches for o in json.loads(b.body)["occurrences"]]
    assert [o["fingerprint"] for o in posted] == ["fp0", "fp1", "fp2"]
    cut = posted[1]
    assert cut["text"].endswith(TRUNCATION_MARK)
    assert cut["traceback"]["blocks"][0]["message"].endswith(TRUNCATION_MARK)


def test_non_ascii_is_counted_in_bytes() -> None:
    wide = _occurrence(1, text_size=0)
    wide.text = "é" * 3_000  # 6,000 bytes in UTF-8
    batches = build_batches("g", "o", [wide, _occurrence(2, 0)], 6_500)
    assert all(len(b.body) <= 6_500 for b in batches)
    assert len(batches) == 2


# -- settings -------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_secret_cache() -> Iterator[None]:
    settings_module.clear_secret_cache()
    yield
    settings_module.clear_secret_cache()


def test_settings_from_the_environment() -> None:
    env = {BOT_URL_ENV: "https://bot.example/", KEY_ID_ENV: "k", SECRET_ENV: "s"}
    loaded = load_settings(env)
    assert loaded.endpoint == "https://bot.example/api/tracebacks"
    assert (loaded.key_id, loaded.secret) == ("k", "s")


@pytest.mark.parametrize("missing", [BOT_URL_ENV, KEY_ID_ENV, SECRET_ENV])
def test_a_missing_setting_is_named(missing: str) -> None:
    env = {BOT_URL_ENV: "https://bot", KEY_ID_ENV: "k", SECRET_ENV: "s"}
    del env[missing]
    with pytest.raises(SettingMissingError, match=missing):
        load_settings(env)


def test_the_secret_is_read_once_per_container() -> None:
    env = {BOT_URL_ENV: "https://bot", KEY_ID_ENV: "k", SECRET_ENV: "first"}
    assert load_settings(env).secret == "first"
    env[SECRET_ENV] = "second"
    assert load_settings(env).secret == "first"
    settings_module.clear_secret_cache()
    assert load_settings(env).secret == "second"


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch):
    moto = pytest.importorskip("moto")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        import boto3

        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.mark.parametrize(
    ("stored", "expected"),
    [("plain-secret", "plain-secret"), ('{"secret": "from-json"}', "from-json")],
)
def test_the_secret_from_secrets_manager(
    secrets_manager, stored: str, expected: str
) -> None:
    arn = secrets_manager.create_secret(Name="fwd", SecretString=stored)["ARN"]
    env = {BOT_URL_ENV: "https://bot", KEY_ID_ENV: "k", SECRET_ARN_ENV: arn}
    assert load_settings(env).secret == expected
    # Cached: a second invocation does not call Secrets Manager again.
    secrets_manager.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert load_settings(env).secret == expected


def test_a_secret_without_the_key_is_a_clear_error(secrets_manager) -> None:
    arn = secrets_manager.create_secret(Name="fwd", SecretString='{"x": 1}')["ARN"]
    env = {BOT_URL_ENV: "https://bot", KEY_ID_ENV: "k", SECRET_ARN_ENV: arn}
    with pytest.raises(SettingMissingError, match=SECRET_ARN_ENV):
        load_settings(env)
