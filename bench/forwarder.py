"""Bench: the forwarder on a ~1 MB subscription batch vs decoding it alone.

Run by hand: `python bench/forwarder.py [--repeat N] [--profile]`. The floor is
what any consumer of the event pays (base64 + gunzip + json.loads); the handler
runs in this process against a loopback bot (a process of its own) answering
202 at once. The last line is `forwarder_vs_decode: X` (best handler time /
best floor time).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import gzip
import io
import json
import multiprocessing
import pstats
import random
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lambda_forwarder.handler import forward
from lambda_forwarder.settings import Settings

TARGET_BYTES = 1_000_000
TRACEBACK_LINE_SHARE = 0.005
T0 = 1_714_560_000_000

WORDS = (
    "order",
    "payment",
    "refund",
    "customer",
    "invoice",
    "shipment",
    "cart",
    "item",
    "stock",
    "price",
    "discount",
    "coupon",
    "session",
    "user",
    "account",
    "token",
    "cache",
    "queue",
    "retry",
    "batch",
)


def _request_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def _info_line(rng: random.Random, request_id: str, ts: str) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
    return f"[INFO]\t{ts}\t{request_id}\t{words} id={rng.randint(1, 10**6)}\n"


def _json_line(rng: random.Random, request_id: str, ts: str) -> str:
    return json.dumps(
        {
            "level": rng.choice(["INFO", "DEBUG", "WARNING"]),
            "timestamp": ts,
            "requestId": request_id,
            "message": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))),
            "order_id": rng.randint(1, 10**6),
        }
    )


def _frames(rng: random.Random, depth: int) -> list[tuple[str, int, str, str]]:
    return [
        (
            f"/var/task/app/{rng.choice(WORDS)}.py",
            rng.randint(1, 400),
            f"handle_{rng.choice(WORDS)}",
            f"return {rng.choice(WORDS)}.{rng.choice(WORDS)}(event)",
        )
        for _ in range(depth)
    ]


def _lambda_error_event(rng: random.Random) -> list[str]:
    """Lambda's uncaught-error event: the whole traceback, one event, NBSP."""
    kind = rng.choice(["KeyError", "ValueError", "TypeError"])
    lines = [
        f"[ERROR] {kind}: '{rng.choice(WORDS)}'",
        "Traceback (most recent call last):",
    ]
    for file, line, func, src in _frames(rng, rng.randint(2, 5)):
        lines.append(f'\xa0\xa0File "{file}", line {line}, in {func}')
        lines.append(f"\xa0\xa0\xa0\xa0{src}")
    return ["\n".join(lines) + "\n"]


def _logged_traceback_events(rng: random.Random, request_id: str, ts: str) -> list[str]:
    """An app logging a traceback one line per event (stdout, no multi-line)."""
    kind = rng.choice(["RuntimeError", "ConnectionError", "ZeroDivisionError"])
    lines = [
        f"[ERROR]\t{ts}\t{request_id}\tfailed to process",
        "Traceback (most recent call last):",
    ]
    for file, line, func, src in _frames(rng, rng.randint(2, 5)):
        lines.append(f'  File "{file}", line {line}, in {func}')
        lines.append(f"    {src}")
    lines.append(f"{kind}: {rng.choice(WORDS)} failed")
    return lines


def build_event(seed: int = 7) -> tuple[dict, int, int]:
    """Return (event, decoded size, number of log events)."""
    rng = random.Random(seed)
    events: list[dict] = []
    size = 0
    tb_lines = 0
    all_lines = 0
    injected = 0
    request_id = _request_id(rng)
    n = 0
    while size < TARGET_BYTES:
        n += 1
        ts_ms = T0 + n * 3
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms / 1000)) + ".000Z"
        if (
            all_lines
            and tb_lines / all_lines < TRACEBACK_LINE_SHARE
            and rng.random() < 0.01
        ):
            injected += 1
            if rng.random() < 0.5:
                messages = _lambda_error_event(rng)
                tb_lines += messages[0].count("\n")
                all_lines += messages[0].count("\n")
            else:
                messages = _logged_traceback_events(rng, request_id, ts)
                tb_lines += len(messages)
                all_lines += len(messages)
        else:
            roll = rng.random()
            if roll < 0.03:
                request_id = _request_id(rng)
                messages = [f"START RequestId: {request_id} Version: $LATEST\n"]
            elif roll < 0.06:
                duration = rng.uniform(1, 900)
                messages = [
                    f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms"
                    f"\tBilled Duration: {int(duration) + 1} ms\tMemory Size: 256 MB"
                    f"\tMax Memory Used: {rng.randint(60, 200)} MB\t\n"
                ]
            elif roll < 0.35:
                messages = [_json_line(rng, request_id, ts)]
            else:
                messages = [_info_line(rng, request_id, ts)]
            all_lines += len(messages)
        for message in messages:
            events.append(
                {
                    "id": str(10**55 + len(events)),
                    "timestamp": ts_ms,
                    "message": message,
                }
            )
            size += len(message) + 90
    decoded = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/orders",
        "logStream": "2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "subscriptionFilters": ["self-heal"],
        "logEvents": events,
    }
    raw = json.dumps(decoded).encode()
    data = base64.b64encode(gzip.compress(raw)).decode()
    print(
        f"batch: {len(raw):,} bytes decoded, {len(events):,} events,"
        f" {injected} tracebacks holding {tb_lines / all_lines:.2%} of the lines",
        file=sys.stderr,
    )
    return {"awslogs": {"data": data}}, len(raw), len(events)


class _Accept(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _serve_bot(ports: multiprocessing.Queue) -> None:
    """The bot, in a process of its own as in production: a thread of ours
    would compete with the handler for the GIL while it answers."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    ports.put(server.server_address[1])
    server.serve_forever()


def floor(event: dict) -> None:
    json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    event, _, _ = build_event()
    ports: multiprocessing.Queue = multiprocessing.Queue()
    bot = multiprocessing.Process(target=_serve_bot, args=(ports,), daemon=True)
    bot.start()
    port = ports.get(timeout=30)
    settings = Settings(bot_url=f"http://127.0.0.1:{port}", key_id="bench", secret="s")
    sink = io.StringIO()

    def run() -> None:
        # The handler prints its log line; keep the bench output to the result.
        stdout, sys.stdout = sys.stdout, sink
        try:
            record = forward(event, None, settings=settings)
        finally:
            sys.stdout = stdout
        assert record["outcome"] == "ok", record

    run()  # warm: imports, first connection
    # Interleaved, so both see the same machine load; best of each.
    handler_s = floor_s = float("inf")
    for _ in range(args.repeat):
        floor_s = min(floor_s, best_of(lambda: floor(event), 1))
        handler_s = min(handler_s, best_of(run, 1))
    record = json.loads(sink.getvalue().splitlines()[-1])
    print(
        f"handler {handler_s * 1000:.1f} ms, floor {floor_s * 1000:.1f} ms;"
        f" found {record['tracebacks_found']}, posted {record['occurrences']}"
        f" occurrences in {record['posts']} post(s)",
        file=sys.stderr,
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(25)
    bot.terminate()
    print(f"forwarder_vs_decode: {handler_s / floor_s:.2f}")


if __name__ == "__main__":
    main()
