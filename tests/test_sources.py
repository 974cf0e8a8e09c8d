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
