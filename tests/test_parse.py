"""Every real case under tests/cases/tracebacks must read as its expected.json says."""

from __future__ import annotations

import json
import time
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


def _lambda_error(message: str, function: str = "handler") -> str:
    """Lambda's own uncaught-error rendering: NBSP indents, no exception line."""
    return (
        f"[ERROR] KeyError: {message}\n"
        "Traceback (most recent call last):\n"
        f'\u00a0\u00a0File "/var/task/{function}.py", line 36, in {function}\n'
        "\u00a0\u00a0\u00a0\u00a0result = ACTIONS[event['action']]\n"
    )


def test_adjacent_lambda_errors_stay_apart() -> None:
    """Lambda errors printed back to back used to read as one traceback.

    A Lambda error has no exception line, so after its last frame came the
    next error's `[ERROR] KeyError: ...` line. `_read_block` took it for a
    reflowed source line because frames followed within three lines (those of
    the next error, under its header), then swallowed the next header the same
    way: five errors gave one traceback with five frames and the first message.
    """
    text = "".join(_lambda_error(f"'k{n}'", f"f{n}") for n in range(5))
    found = find_tracebacks(text)
    assert [f.traceback.final.message for f in found] == [f"'k{n}'" for n in range(5)]
    assert [[fr.function for fr in f.traceback.final.frames] for f in found] == [
        [f"f{n}"] for n in range(5)
    ]
    assert not any(f.traceback.partial for f in found)


def test_two_cut_tracebacks_in_a_row_stay_apart() -> None:
    """A header under a frame is a new traceback, never that frame's source."""
    text = (
        "Traceback (most recent call last):\n"
        '  File "/app/a.py", line 1, in first\n'
        "Traceback (most recent call last):\n"
        '  File "/app/b.py", line 2, in second\n'
        "    second()\n"
        "ValueError: second\n"
    )
    found = find_tracebacks(text)
    assert [[fr.function for fr in f.traceback.final.frames] for f in found] == [
        ["first"],
        ["second"],
    ]
    assert found[0].traceback.final.frames[0].source is None


# --- adversarial input: the parser stays linear -------------------------------

_FRAME = '  File "/var/task/a.py", line 1, in f\n'
_TAIL = 'Traceback (most recent call last):\n  File "a.py", line 1, in f\n'

# Each shape at a scale `n` (about n characters). Before the fixes noted, the
# shape took time quadratic in n (the regex that did so in parentheses).
ADVERSARIAL = {
    # LAMBDA_HEADER_RE's lazy `.*?\s*$` over trailing whitespace.
    "lambda-header-padded": lambda n: "[ERROR] KeyError: 'a" + " " * n + "'\n" + _TAIL,
    # LAMBDA_PREFIX_RE searched from inside an upper-case run.
    "upper-case-run-above-header": lambda n: "A" * n + "\n" + _TAIL,
    # FLAT_EXC_RE and FLAT_SPLIT_RE retried inside a whitespace run.
    "flattened-with-whitespace-run": lambda n: (
        'Traceback (most recent call last): File "a.py", line 1, in f' + " " * n + "x\n"
    ),
    # REPR_HINT_RES' lazy `.*?` from every repeated opening.
    "repr-openings": lambda n: "(<class 'X'>, Y(" * (n // 16) + "\n" + _TAIL,
    "celery-openings": lambda n: "raised unexpected: X(" * (n // 21) + "\n" + _TAIL,
    "asyncio-openings": lambda n: "exception=X(" * (n // 12) + "\n" + _TAIL,
    # Already linear; kept so they stay so.
    "long-line-of-words": lambda n: "word " * (n // 5) + "\n",
    "file-markers-one-line": lambda n: 'File "a.py", line 1, in f ' * (n // 26),
    "file-markers-unclosed": lambda n: 'File "' * (n // 6) + "\n",
    "frame-lines": lambda n: _FRAME * (n // len(_FRAME)),
    "flattened-frames": lambda n: (
        "Traceback (most recent call last): "
        + 'File "a.py", line 1, in f  ' * (n // 27)
    ),
    "nested-json": lambda n: (
        '{"errorType": "E", "a": ' + "[" * (n // 2) + "]" * (n // 2) + "}\n"
    ),
    "unclosed-json": lambda n: '{"stackTrace": ' + "[" * n + "\n",
    "json-keys-one-line": lambda n: '{"errorType": ' * (n // 14) + "\n",
    "long-message": lambda n: _TAIL + "ValueError: " + "x " * (n // 2) + "\n",
    "long-source-line": lambda n: _TAIL + "    " + "(" * n + "\nValueError: x\n",
    "escaped-frames": lambda n: (
        '"message": "Traceback (most recent call last):\\n'
        + '  File \\"a.py\\", line 1, in f\\n' * (n // 31)
        + '"\n'
    ),
    "overprinted-frames": lambda n: '", line 1, in f ' * (n // 16) + "x\n",
    "chain-of-colons": lambda n: (
        'Traceback (most recent call last): File "a.py", line 1, in f '
        + "  A:" * (n // 4)
    ),
}


def _best_seconds(func, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("shape", sorted(ADVERSARIAL))
def test_adversarial_input_scales_linearly(shape: str) -> None:
    """Four times the input may cost about four times the time, not sixteen.

    Timing-relative, so it holds on a slow or busy machine: the small and the
    large run are measured in turns (best of three each). A quadratic shape
    at these sizes took 16x or (for the ones noted in ADVERSARIAL) seconds
    against milliseconds; the bound allows 10x plus a splitlines() floor.
    """
    small, large = ADVERSARIAL[shape](5_000), ADVERSARIAL[shape](20_000)
    small_s = large_s = floor_s = float("inf")
    for _ in range(3):
        small_s = min(small_s, _best_seconds(lambda: find_tracebacks(small), 1))
        large_s = min(large_s, _best_seconds(lambda: find_tracebacks(large), 1))
        floor_s = min(floor_s, _best_seconds(lambda: large.splitlines(), 1))
    assert large_s < 10 * small_s + 200 * floor_s, (small_s, large_s, floor_s)


def test_megabytes_of_adversarial_input_parse_in_bounded_time() -> None:
    """All shapes at 120k characters each (a few MB): bounded by splitlines().

    A log of nothing but real tracebacks costs the parser a few hundred times
    splitlines() (every line is a frame to read); the quadratic shapes cost
    tens of thousands of times. The bound sits between, with a wide margin.
    """
    text = "\n".join(build(120_000) for build in ADVERSARIAL.values())
    assert len(text) > 2_000_000
    floor_s = _best_seconds(text.splitlines)
    parse_s = _best_seconds(lambda: find_tracebacks(text), 1)
    assert parse_s < 2_000 * floor_s, (parse_s, floor_s)
