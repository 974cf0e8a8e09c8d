"""Every real case under tests/cases/tracebacks must read as its expected.json says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.tracebacks import (
    Found,
    Relation,
    decode_subscription_event,
    find_in_events,
    find_tracebacks,
    read_log_input,
)
from bot.tracebacks.model import ExceptionBlock, Traceback

CASES = Path(__file__).parent / "cases" / "tracebacks"
CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "expected.json").is_file())
RELATIONS = {"direct cause": Relation.CAUSE, "during handling": Relation.CONTEXT}


def _expected(case: Path) -> dict:
    return json.loads((case / "expected.json").read_text(encoding="utf-8"))


def _found(case: Path) -> list[Found]:
    return find_tracebacks((case / "input.log").read_text(encoding="utf-8"))


def _prefix(message: str | None) -> str | None:
    if message is None:
        return None
    return message.split("\n", 1)[0][:40]


def _check_block(block: ExceptionBlock, want: dict) -> None:
    assert block.type == want["exc_type"]
    assert _prefix(block.message) == want["exc_message_prefix"]
    assert len(block.frames) == want["frames_count"]
    last = want["last_frame"]
    if last is None:
        assert not block.frames
    else:
        frame = block.frames[-1]
        assert (frame.file, frame.line, frame.function) == (
            last["file"],
            last["line"],
            last["function"],
        )
    if "notes" in want:
        assert block.notes == want["notes"]


def _check(tb: Traceback, want: dict) -> None:
    _check_block(tb.final, want)
    assert len(tb.blocks) == want["chained_count"]
    assert tb.partial == want.get("partial", False)
    for entry in want.get("chain", []):
        block = tb.blocks[entry["position"] - 1]
        _check_block(block, entry)
        relation = tb.blocks[entry["position"]].relation
        assert relation is RELATIONS[entry["relation_to_next"].split(" (")[0]]
    location = want.get("syntax_error_location")
    if location is None:
        assert tb.final.syntax_error is None
    else:
        assert tb.final.syntax_error is not None
        assert tb.final.syntax_error.file == location["file"]
        assert tb.final.syntax_error.line == location["line"]
    subs = want.get("sub_exceptions", [])
    assert len(tb.final.sub_exceptions) == len(subs)
    for sub, sub_want in zip(tb.final.sub_exceptions, subs, strict=True):
        _check_block(sub.final, sub_want)


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_case(case: Path) -> None:
    want = _expected(case)["tracebacks"]
    found = _found(case)
    assert len(found) == len(want)
    for got, entry in zip(found, want, strict=True):
        _check(got.traceback, entry)


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_case_round_trips_through_dict(case: Path) -> None:
    for got in _found(case):
        assert Traceback.from_dict(got.traceback.to_dict()) == got.traceback


def _group(case_data: dict, entry: dict) -> str | None:
    label = entry.get("fingerprint_group") or case_data.get("fingerprint_group")
    return label.split(" (")[0] if label else None


def test_fingerprint_groups() -> None:
    groups: dict[str, set[str]] = {}
    for case in CASE_DIRS:
        data = _expected(case)
        for got, entry in zip(_found(case), data["tracebacks"], strict=True):
            label = _group(data, entry)
            if label:
                groups.setdefault(label, set()).add(got.fingerprint)
    assert groups, "the cases name fingerprint groups"
    for label, prints in groups.items():
        assert len(prints) == 1, label
    # Different groups are different errors.
    assert len({next(iter(p)) for p in groups.values()}) == len(groups)


def test_unrelated_cases_do_not_share_fingerprints() -> None:
    prints: dict[str, str] = {}
    for case in CASE_DIRS:
        data = _expected(case)
        for got, entry in zip(_found(case), data["tracebacks"], strict=True):
            key = _group(data, entry) or f"{case.name}/{entry.get('rendering')}"
            if got.fingerprint in prints and prints[got.fingerprint] != key:
                # 006: one error rendered before and after a fix of its frames.
                assert case.name.startswith("006")
            prints.setdefault(got.fingerprint, key)


PAYLOAD_DIRS = [p for p in CASE_DIRS if (p / "payload.json").is_file()]


def _matches(found: Found, entry: dict) -> bool:
    try:
        _check_block(found.traceback.final, entry)
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("case", PAYLOAD_DIRS, ids=lambda p: p.name)
def test_payload(case: Path) -> None:
    event = json.loads((case / "payload.json").read_text(encoding="utf-8"))
    payload = decode_subscription_event(event)
    decoded = json.loads((case / "payload.decoded.json").read_text(encoding="utf-8"))
    assert payload == decoded
    pairs = read_log_input((case / "payload.json").read_bytes())
    assert [group for group, _ in pairs] == [payload["logGroup"]]
    events = pairs[0][1]
    found = find_in_events(events)
    assert found
    want = _expected(case)["tracebacks"]
    text_found = _found(case)
    for got in found:
        assert got.log_stream == payload["logStream"]
        assert got.timestamp in {e["timestamp"] for e in payload["logEvents"]}
        index = next(i for i, w in enumerate(want) if _matches(got, w))
        assert got.traceback.partial == want[index].get("partial", False)
        assert got.fingerprint == text_found[index].fingerprint


# --- shapes not covered by a real case -----------------------------------------


def _single(text: str) -> Traceback:
    (found,) = find_tracebacks(text)
    return found.traceback


def test_chain_whose_first_exception_has_no_traceback() -> None:
    tb = _single(
        "ValueError: inner\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/app/a.py", line 2, in f\n'
        "    raise RuntimeError('outer') from ValueError('inner')\n"
        "RuntimeError: outer\n"
    )
    assert [b.type for b in tb.blocks] == ["ValueError", "RuntimeError"]
    assert tb.blocks[1].relation is Relation.CAUSE


def test_kubectl_prefix_and_bare_exception_name() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "/srv/app/worker.py", line 10, in run',
        "    loop()",
        "KeyboardInterrupt",
    ]
    text = "\n".join(f"[pod/worker-5d8f7c9b4-x2x9k/worker] {line}" for line in lines)
    tb = _single(text)
    assert tb.final.type == "KeyboardInterrupt"
    assert tb.final.message is None
    assert tb.final.frames[0].function == "run"


def test_structlog_dict_traceback() -> None:
    record = {
        "event": "failed",
        "exception": [
            {
                "exc_type": "ValueError",
                "exc_value": "bad",
                "frames": [{"filename": "/app/a.py", "lineno": 3, "name": "f"}],
            }
        ],
    }
    tb = _single(json.dumps(record))
    assert tb.final.type == "ValueError"
    assert tb.final.frames[0].line == 3


def test_powertools_stack_trace_without_exception_string() -> None:
    record = {
        "level": "ERROR",
        "message": "boom",
        "exception_name": "KeyError",
        "stack_trace": [
            {
                "File": "/var/task/app.py",
                "Line": 7,
                "Function": "handler",
                "Statement": "x",
            }
        ],
    }
    tb = _single(json.dumps(record))
    assert tb.final.type == "KeyError"
    assert tb.final.frames[0].function == "handler"


def test_nbsp_indentation_and_message_nbsp() -> None:
    text = (
        "[ERROR] ValueError: a\u00a0b\nTraceback (most recent call last):\n"
        '\u00a0\u00a0File "/var/task/h.py", line 4, in handler\n'
        "\u00a0\u00a0\u00a0\u00a0go()\n"
    )
    tb = _single(text)
    assert tb.final.message == "a\u00a0b"
    assert tb.final.frames[0].source == "go()"
    assert not tb.partial


def test_plain_log_lines_are_not_tracebacks() -> None:
    text = (
        "2026-12-03 10:00:00 ERROR KeyError: 'x'\n"
        "File upload done\n"
        '{"level": "ERROR", "message": "File \\"a\\" failed"}\n'
        "REPORT RequestId: 8b0a5f2e-3c1d-4e5f-9a8b-7c6d5e4f3a2b\tDuration: 1 ms\n"
    )
    assert find_tracebacks(text) == []
