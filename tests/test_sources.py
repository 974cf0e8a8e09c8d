"""Payload decoding, input shapes and event reassembly."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import pytest

from bot.tracebacks import (
    LogEvent,
    UnreadableInput,
    decode_subscription_event,
    find_in_events,
    read_log_input,
)

RID_A = "8b0a5f2e-3c1d-4e5f-9a8b-7c6d5e4f3a2b"
RID_B = "11111111-2222-4333-8444-555555555555"
PAYLOAD = {
    "messageType": "DATA_MESSAGE",
    "owner": "123456789012",
    "logGroup": "/aws/lambda/orders",
    "logStream": "2026/12/03/[$LATEST]abc",
    "subscriptionFilters": ["f"],
    "logEvents": [
        {
            "id": "1",
            "timestamp": 1000,
            "message": f"START RequestId: {RID_A} Version: $LATEST\n",
        },
        {
            "id": "2",
            "timestamp": 1001,
            "message": "[ERROR] KeyError: 'Records'\n"
            "Traceback (most recent call last):\n"
            '\u00a0\u00a0File "/var/task/scan.py", line 51, in event_object\n'
            '\u00a0\u00a0\u00a0\u00a0records = event["Records"]\n',
        },
        {"id": "3", "timestamp": 1002, "message": f"END RequestId: {RID_A}\n"},
    ],
}


def _event(payload: dict, compress) -> dict:
    raw = json.dumps(payload).encode()
    return {"awslogs": {"data": base64.b64encode(compress(raw)).decode()}}


@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress, lambda b: b])
def test_decode_subscription_event(compress) -> None:
    assert decode_subscription_event(_event(PAYLOAD, compress)) == PAYLOAD


@pytest.mark.parametrize(
    "event",
    [{}, {"awslogs": {}}, {"awslogs": {"data": 3}}, {"awslogs": {"data": "!!!"}}],
)
def test_decode_refuses_junk(event: dict) -> None:
    with pytest.raises(UnreadableInput):
        decode_subscription_event(event)


def test_unreadable_input_is_a_value_error() -> None:
    assert issubclass(UnreadableInput, ValueError)


def test_sam_sample_event() -> None:
    data = (
        "H4sIAAAAAAAAAHWPwQqCQBCGX0Xm7EFtK+smZBEUgXoLCdMhFtKV3akI8d0bLYmibvPPN3wz00CJxmQnTO41"
        "whwWQRIctmEcB6sQbFC3CjW3XW8kxpOpP+OC22d1Wml1qZkQGtoMsScxaczKN3plG8zlaHIta5KqWsozoTYw"
        "3/djzwhpLwivWFGHGpAFe7DL68JlBUk+l7KSN7tCOEJ4M3/qOI49vMHj+zCKdlFqLaU2ZHV2a4Ct/an0/ivd"
        "X8oYc1UVX860fQDQiMdxRQEAAA=="
    )
    payload = decode_subscription_event({"awslogs": {"data": data}})
    assert payload["logGroup"] == "testLogGroup"
    assert [e["message"] for e in payload["logEvents"]] == [
        "[ERROR] First test message",
        "[ERROR] Second test message",
    ]


def test_read_subscription_event_and_payload() -> None:
    for data in (json.dumps(_event(PAYLOAD, gzip.compress)), json.dumps(PAYLOAD)):
        ((group, events),) = read_log_input(data.encode())
        assert group == "/aws/lambda/orders"
        assert [e.id for e in events] == ["1", "2", "3"]
        assert {e.log_stream for e in events} == {"2026/12/03/[$LATEST]abc"}
        (found,) = find_in_events(events)
        assert found.traceback.final.type == "KeyError"
        assert found.traceback.final.frames[0].line == 51
        assert found.timestamp == 1001
        assert found.request_id == RID_A
        assert not found.traceback.partial


def test_control_message_is_ignored() -> None:
    control = {**PAYLOAD, "messageType": "CONTROL_MESSAGE"}
    assert read_log_input(json.dumps(_event(control, gzip.compress)).encode()) == []


def test_filter_log_events_output() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "/var/task/app.py", line 3, in handler',
        "    boom()",
        "ValueError: bad",
    ]
    doc = {
        "events": [
            {
                "logStreamName": "s1",
                "timestamp": 10 + n,
                "message": line,
                "eventId": str(n),
            }
            for n, line in enumerate(lines)
        ]
        + [{"logStreamName": "s2", "timestamp": 5, "message": "hello"}],
        "searchedLogStreams": [],
    }
    ((group, events),) = read_log_input(json.dumps(doc).encode())
    assert group is None
    (found,) = find_in_events(events)
    assert found.log_stream == "s1"
    assert found.timestamp == 10
    assert found.traceback.final.message == "bad"


def test_get_log_events_output_without_stream_names() -> None:
    doc = {
        "events": [
            {"timestamp": 1, "message": "Traceback (most recent call last):"},
            {"timestamp": 2, "message": '  File "/var/task/a.py", line 1, in f'},
            {"timestamp": 3, "message": "KeyError: 0"},
        ],
        "nextForwardToken": "f/1",
    }
    ((_, events),) = read_log_input(json.dumps(doc).encode())
    assert all(e.log_stream is None for e in events)
    (found,) = find_in_events(events)
    assert found.traceback.final.type == "KeyError"


def test_plain_text_input() -> None:
    text = (
        'hello\nTraceback (most recent call last):\n  File "a.py", line 1, in f\nE: x\n'
    )
    ((group, events),) = read_log_input(text.encode())
    assert group is None
    (found,) = find_in_events(events)
    assert found.traceback.final.type == "E"


def test_json_lines_are_plain_text() -> None:
    text = '{"level": "INFO"}\n{"errorType": "KeyError", "errorMessage": "x"}\n'
    ((_, events),) = read_log_input(text.encode())
    (found,) = find_in_events(events)
    assert found.traceback.final.type == "KeyError"


@pytest.mark.parametrize(
    "data", [b"\xff\xfe\x00junk", b"\x1f\x8b\x08broken", b"a\x00b"]
)
def test_read_refuses_binary(data: bytes) -> None:
    with pytest.raises(UnreadableInput):
        read_log_input(data)


def test_gzip_file_input() -> None:
    text = 'Traceback (most recent call last):\n  File "a.py", line 1, in f\nE: x\n'
    ((_, events),) = read_log_input(gzip.compress(text.encode()))
    assert len(find_in_events(events)) == 1


def _prefixed(rid: str, line: str, n: int) -> LogEvent:
    return LogEvent(f"[ERROR]\t2026-12-03T10:00:0{n}.000Z\t{rid}\t{line}", n, "s")


def test_interleaved_requests_are_told_apart() -> None:
    first = [
        "Traceback (most recent call last):",
        '  File "/var/task/a.py", line 1, in one',
        "    one()",
        "ValueError: from a",
    ]
    second = [
        "Traceback (most recent call last):",
        '  File "/var/task/b.py", line 2, in two',
        "    two()",
        "TypeError: from b",
    ]
    events = []
    for n, (a, b) in enumerate(zip(first, second, strict=True)):
        events.append(_prefixed(RID_A, a, 2 * n))
        events.append(_prefixed(RID_B, b, 2 * n + 1))
    found = find_in_events(events)
    by_rid = {f.request_id: f.traceback.final for f in found}
    assert by_rid[RID_A].type == "ValueError"
    assert by_rid[RID_A].frames[0].function == "one"
    assert by_rid[RID_B].type == "TypeError"
    assert by_rid[RID_B].frames[0].function == "two"


def test_streams_are_read_apart() -> None:
    events = [
        LogEvent("Traceback (most recent call last):", 1, "a"),
        LogEvent("Traceback (most recent call last):", 1, "b"),
        LogEvent('  File "/var/task/a.py", line 1, in fa', 2, "a"),
        LogEvent('  File "/var/task/b.py", line 1, in fb', 2, "b"),
        LogEvent("KeyError: 'a'", 3, "a"),
        LogEvent("KeyError: 'b'", 3, "b"),
    ]
    found = find_in_events(events)
    assert sorted((f.log_stream, f.traceback.final.message) for f in found) == [
        ("a", "'a'"),
        ("b", "'b'"),
    ]


def test_carriage_return_joined_event() -> None:
    message = (
        "[ERROR] KeyError: 'S'\rTraceback (most recent call last):\r"
        '  File "/var/task/m.py", line 35, in aggregate\r    handle(record)\n'
    )
    (found,) = find_in_events([LogEvent(message, 1, "s")])
    assert found.traceback.final.type == "KeyError"
    assert found.traceback.final.frames[0].function == "aggregate"


def test_lambda_json_log_format_record() -> None:
    record = {
        "timestamp": "2026-12-03T10:00:00Z",
        "level": "ERROR",
        "message": "boom",
        "logger": "root",
        "requestId": RID_A,
        "errorType": "ZeroDivisionError",
        "errorMessage": "division by zero",
        "stackTrace": ['  File "/var/task/app.py", line 5, in handler\n    1 / 0\n'],
    }
    (found,) = find_in_events([LogEvent(json.dumps(record), 1, "s")])
    assert found.traceback.final.type == "ZeroDivisionError"
    assert found.traceback.final.frames[0].source == "1 / 0"
    assert found.request_id == RID_A


def _lambda_error(message: str, function: str = "handler") -> str:
    """Lambda's own uncaught-error event: NBSP indents, no exception line."""
    return (
        f"[ERROR] KeyError: {message}\n"
        "Traceback (most recent call last):\n"
        f'\u00a0\u00a0File "/var/task/{function}.py", line 36, in {function}\n'
        "\u00a0\u00a0\u00a0\u00a0result = ACTIONS[event['action']]\n"
    )


def test_adjacent_lambda_error_events_are_one_traceback_each() -> None:
    """Five Lambda error events of one request came out as one traceback.

    With no START line between them they join one request's text, where each
    error's `[ERROR]` line and header were read as source lines of the error
    before (the parser's `_read_block`); now each event is its own traceback.
    """
    events = [
        LogEvent(_lambda_error(f"'k{n}'", f"f{n}"), 100 + n, "s") for n in range(5)
    ]
    found = find_in_events(events)
    assert [f.traceback.final.message for f in found] == [f"'k{n}'" for n in range(5)]
    assert [f.timestamp for f in found] == [100 + n for n in range(5)]
    assert [f.traceback.final.frames[0].function for f in found] == [
        f"f{n}" for n in range(5)
    ]


def test_a_lambda_error_event_ends_its_traceback() -> None:
    """The event after a Lambda error is not that error's exception line.

    Lambda prints no exception line under its traceback, so the next event's
    `Retrying: attempt 2` read as `Retrying` with message `attempt 2`.
    """
    events = [
        LogEvent(_lambda_error("'action'"), 1, "s"),
        LogEvent("Retrying: 2", 2, "s"),
    ]
    (found,) = find_in_events(events)
    assert found.traceback.final.type == "KeyError"
    assert found.traceback.final.message == "'action'"


def test_request_ids_are_read_only_around_tracebacks(monkeypatch) -> None:
    """Per-event work happens near triggers only, not on every event.

    The forwarder bench spent three quarters of `find_in_events` matching the
    Lambda prefix (and searching for request ids) on each of thousands of
    events; now a batch is joined and searched for traceback markers once.
    """
    import bot.tracebacks.sources as sources

    calls = []

    class Counting:
        def __init__(self, pattern):
            self.pattern = pattern

        def match(self, *args):
            calls.append(args)
            return self.pattern.match(*args)

        def search(self, *args):
            calls.append(args)
            return self.pattern.search(*args)

    monkeypatch.setattr(sources, "LAMBDA_PREFIX_RE", Counting(sources.LAMBDA_PREFIX_RE))
    noise = [
        LogEvent(f"[INFO]\t2026-12-03T10:00:00Z\t{RID_A}\tstep {n} done\n", n, "s")
        for n in range(5_000)
    ]
    events = [*noise[:2_500], LogEvent(_lambda_error("'x'"), 9, "s"), *noise[2_500:]]
    (found,) = find_in_events(events)
    assert found.request_id == RID_A
    assert len(calls) < 100
    calls.clear()
    assert find_in_events(noise) == []
    assert calls == []


def _reference(events: list[LogEvent]) -> list[tuple]:
    """Read each (stream, request) group whole, as find_in_events once did."""
    import bisect as _bisect

    from bot.tracebacks.parse import scan
    from bot.tracebacks.sources import _read_event

    groups: dict = {}
    current: dict = {}
    for order, event in enumerate(events):
        rid, body, ends = _read_event(event.message)
        if rid is not None:
            current[event.log_stream] = rid
        key = (event.log_stream, current.get(event.log_stream))
        groups.setdefault(key, []).append((order, event, body, ends))
    out = []
    for (_stream, rid), items in groups.items():
        offsets, parts, pos = [], [], 0
        for _order, _event, body, ends in items:
            offsets.append(pos)
            parts.append(body)
            pos += len(body) + 1
            if ends:
                parts.append("")
                pos += 1
        for hit in scan("\n".join(parts)):
            order, event, _, _ = items[_bisect.bisect_right(offsets, hit.start) - 1]
            out.append((order, _key(hit.traceback, event, hit.request_id or rid)))
    return [key for _, key in sorted(out, key=lambda pair: pair[0])]


def _key(tb, event: LogEvent, rid) -> tuple:
    final = tb.final
    frames = tuple((f.file, f.line, f.function) for f in final.frames)
    return (final.type, final.message, frames, tb.partial, event.timestamp, rid)


def _random_stream(seed: int) -> list[LogEvent]:
    import random

    rng = random.Random(seed)
    rids = [f"6234bffe-149a-b642-81ff-{n:012d}" for n in range(4)]
    events: list[LogEvent] = []
    for _ in range(rng.randint(20, 120)):
        rid = rng.choice(rids)
        roll = rng.random()
        if roll < 0.1:
            messages = [f"START RequestId: {rid} Version: $LATEST\n"]
        elif roll < 0.2:
            messages = [_lambda_error(f"'k{len(events)}'", rng.choice("fgh"))]
        elif roll < 0.3:
            messages = [
                f"[ERROR]\t2026-12-03T10:00:00Z\t{rid}\t{line}"
                for line in (
                    "Traceback (most recent call last):",
                    f'  File "/var/task/app.py", line {len(events)}, in go',
                    "    go()",
                    f"ValueError: bad {len(events)}",
                )
            ]
        elif roll < 0.35:
            record = {
                "requestId": rid,
                "errorType": "TypeError",
                "errorMessage": f"t{len(events)}",
                "stackTrace": ['  File "/var/task/j.py", line 2, in j\n    j()\n'],
            }
            messages = [json.dumps(record)]
        elif roll < 0.45:
            messages = ["Traceback (most recent call last):", "  noise line"]
        else:
            messages = [f"[INFO]\t2026-12-03T10:00:00Z\t{rid}\tstep {len(events)}\n"]
            messages += ["unmarked line"] * rng.randint(0, 3)
        events += [LogEvent(m, len(events) + k, "s") for k, m in enumerate(messages)]
    return events


@pytest.mark.parametrize("seed", range(40))
def test_reading_around_triggers_matches_reading_each_request_whole(seed) -> None:
    events = _random_stream(seed)
    got = [
        _key(f.traceback, LogEvent("", f.timestamp), f.request_id)
        for f in find_in_events(events)
    ]
    assert got == _reference(events)


def test_find_in_subscription_matches_find_in_events() -> None:
    from bot.tracebacks import find_in_subscription

    events = _random_stream(7)
    raw = [
        {"id": str(n), "timestamp": e.timestamp, "message": e.message}
        for n, e in enumerate(events)
    ]
    by_events = find_in_events(events)
    by_raw = find_in_subscription(raw, "s")
    assert [(f.text, f.timestamp, f.request_id, f.fingerprint) for f in by_raw] == [
        (f.text, f.timestamp, f.request_id, f.fingerprint) for f in by_events
    ]
