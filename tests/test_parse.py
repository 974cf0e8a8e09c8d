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
