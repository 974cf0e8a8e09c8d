"""Real exceptions, formatted by `traceback`, must parse back to the same blocks."""

from __future__ import annotations

import json
import traceback

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.tracebacks import (
    LogEvent,
    Relation,
    Traceback,
    UnreadableInput,
    find_in_events,
    find_tracebacks,
    read_log_input,
    render,
)

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
MARKERS = ("Traceback", 'File "', "During handling", "The above exception", "+-")


class BillingError(Exception):
    """A user-defined exception: printed with its module name."""


# --- raising -----------------------------------------------------------------


def _deep(depth: int, exc: BaseException) -> None:
    if depth <= 0:
        raise exc
    _deep(depth - 1, exc)


def _raise_chain(messages: list[str], depth: int, explicit: list[bool]) -> None:
    """Raise ValueError(m0), then handle it by raising the next one, and so on."""
    kinds = [ValueError, KeyError, RuntimeError, BillingError, LookupError]
    if len(messages) == 1:
        _deep(depth, kinds[0](messages[0]))
    try:
        _raise_chain(messages[:-1], depth, explicit[:-1])
    except Exception as inner:
        outer = kinds[len(messages) % len(kinds)](messages[-1])
        if explicit[-1]:
            raise outer from inner
        raise outer  # noqa: B904 - the implicit chain is the point


def _caught(func, *args) -> BaseException:
    try:
        func(*args)
    except BaseException as exc:  # any exception is the input
        return exc
    raise AssertionError("nothing raised")


def _group(messages: list[str], nested: bool) -> None:
    members: list[Exception] = []
    for message in messages:
        members.append(_caught(_deep, 2, ValueError(message)))
    if nested:
        members.append(ExceptionGroup("inner", [TypeError("t"), KeyError("k")]))
    raise ExceptionGroup("outer problems", members)


def _syntax(source: str) -> None:
    compile(source, "/srv/app/generated.py", "exec")


def _recurse(n: int) -> int:
    return _recurse(n + 1) + 1


# Raised once at import, on a shallow stack: raising it under hypothesis would
# make where the recursion limit hits depend on hypothesis' own stack depth.
RECURSION = _caught(_recurse, 0)


# --- expected reading --------------------------------------------------------


def _printed_frames(stack) -> list[tuple[str, int, str]]:
    """Frames as printed: runs of one identical frame are cut after three."""
    out: list[tuple[str, int, str]] = []
    last = None
    count = 0
    for fs in stack:
        key = (fs.filename, fs.lineno, fs.name)
        count = count + 1 if key == last else 1
        last = key
        if count <= 3:
            out.append(key)
    return out


def _type_name(te: traceback.TracebackException) -> str:
    module = te.exc_type.__module__
    name = te.exc_type.__qualname__
    return name if module in ("builtins", "__main__") else f"{module}.{name}"


def _expected(te: traceback.TracebackException) -> list[dict]:
    blocks: list[dict] = []
    relation = None
    chain: list[tuple[traceback.TracebackException, Relation | None]] = []
    current: traceback.TracebackException | None = te
    while current is not None:
        chain.append((current, relation))
        if current.__cause__ is not None:
            current, relation = current.__cause__, Relation.CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, relation = current.__context__, Relation.CONTEXT
        else:
            current = None
    chain.reverse()
    relations = [None] + [chain[i][1] for i in range(len(chain) - 1)]
    for (item, _), rel in zip(chain, relations, strict=True):
        message = item._str or None
        syntax = issubclass(item.exc_type, SyntaxError)
        if syntax:
            message = item.msg
        blocks.append(
            {
                "type": _type_name(item),
                "message": message,
                "frames": _printed_frames(item.stack),
                "relation": rel,
                "syntax": (item.filename, int(item.lineno)) if syntax else None,
                "subs": [_expected(sub) for sub in (item.exceptions or [])],
            }
        )
    return blocks


def _assert_same(tb: Traceback, want: list[dict]) -> None:
    assert len(tb.blocks) == len(want)
    for block, expected in zip(tb.blocks, want, strict=True):
        assert block.type == expected["type"]
        assert block.message == expected["message"]
        got = [(f.file, f.line, f.function) for f in block.frames]
        assert got == expected["frames"]
        assert block.relation == expected["relation"]
        if expected["syntax"]:
            assert block.syntax_error is not None
            assert (block.syntax_error.file, block.syntax_error.line) == expected[
                "syntax"
            ]
        assert len(block.sub_exceptions) == len(expected["subs"])
        for sub, sub_want in zip(block.sub_exceptions, expected["subs"], strict=True):
            _assert_same(sub, sub_want)


def _one(text: str) -> Traceback:
    found = find_tracebacks(text)
    assert len(found) == 1, [f.traceback.final.type for f in found]
    return found[0].traceback


# --- strategies --------------------------------------------------------------

words = st.text(
    alphabet=st.characters(
        whitelist_categories=("L", "N", "Zs", "P", "S"),
        blacklist_characters="\\\"'\n\r\x85\u2028\u2029",
    ),
    min_size=1,
    max_size=30,
).map(str.strip)


def _message_ok(message: str) -> bool:
    return (
        bool(message) and not any(m in message for m in MARKERS) and ":" not in message
    )


messages = words.filter(_message_ok)


@st.composite
def raised(draw) -> BaseException:
    kind = draw(st.sampled_from(["chain", "group", "syntax", "recursion"]))
    if kind == "chain":
        texts = draw(st.lists(messages, min_size=1, max_size=3))
        explicit = draw(
            st.lists(st.booleans(), min_size=len(texts), max_size=len(texts))
        )
        depth = draw(st.integers(0, 4))
        return _caught(_raise_chain, texts, depth, explicit)
    if kind == "group":
        texts = draw(st.lists(messages, min_size=1, max_size=3))
        return _caught(_group, texts, draw(st.booleans()))
    if kind == "syntax":
        source = draw(st.sampled_from(["def (:\n", "x = = 1\n", "a = 1\n  b = 2\n"]))
        return _caught(_syntax, source)
    return RECURSION


def _formatted(exc: BaseException) -> tuple[str, list[dict]]:
    text = "".join(traceback.format_exception(exc))
    return text, _expected(traceback.TracebackException.from_exception(exc))


# --- properties --------------------------------------------------------------


@SETTINGS
@given(raised())
def test_plain_text_reads_back(exc: BaseException) -> None:
    text, want = _formatted(exc)
    _assert_same(_one(text), want)


@SETTINGS
@given(raised())
def test_render_reads_back(exc: BaseException) -> None:
    text, want = _formatted(exc)
    tb = _one(text)
    _assert_same(_one(render(tb)), want)


PREFIXES = [
    lambda n: f"2024-05-0{n % 9 + 1}T10:1{n % 10}:0{n % 10}.{n:03d}Z stdout F ",
    lambda n: "web_1  | ",
    lambda n: f"Jan 13 23:07:{n % 60:02d} host app[7653]: ",
    lambda n: (
        f"[ERROR]\t2020-01-31T22:12:{n % 60:02d}.534Z\t"
        "8b0a5f2e-3c1d-4e5f-9a8b-7c6d5e4f3a2b\t"
    ),
]


@SETTINGS
@given(raised(), st.sampled_from(range(len(PREFIXES))))
def test_every_line_prefixed_reads_back(exc: BaseException, which: int) -> None:
    text, want = _formatted(exc)
    prefix = PREFIXES[which]
    lines = text.rstrip("\n").split("\n")
    logged = "\n".join(prefix(n) + line for n, line in enumerate(lines))
    _assert_same(_one("app starting\n" + logged + "\nnext record\n"), want)


@SETTINGS
@given(raised(), st.sampled_from(["exc_info", "exception", "stack"]))
def test_json_field_reads_back(exc: BaseException, key: str) -> None:
    text, want = _formatted(exc)
    record = json.dumps({"level": "ERROR", "message": "failed", key: text})
    _assert_same(_one('{"level": "INFO", "message": "hello"}\n' + record + "\n"), want)


@SETTINGS
@given(raised())
def test_escaped_newlines_read_back(exc: BaseException) -> None:
    text, want = _formatted(exc)
    assume("\\" not in text)
    line = "2024-01-01 10:00:00 ERROR boom - " + text.rstrip("\n").replace("\n", "\\n")
    _assert_same(_one(line + "\n"), want)


@SETTINGS
@given(raised())
def test_one_line_per_event_reads_back(exc: BaseException) -> None:
    text, want = _formatted(exc)
    events = [LogEvent("START RequestId: 8b0a5f2e-3c1d-4e5f-9a8b-7c6d5e4f3a2b", 1, "s")]
    for n, line in enumerate(text.rstrip("\n").split("\n")):
        events.append(LogEvent(line, 2 + n, "s"))
    found = find_in_events(events)
    assert len(found) == 1
    _assert_same(found[0].traceback, want)
    assert found[0].request_id == "8b0a5f2e-3c1d-4e5f-9a8b-7c6d5e4f3a2b"


FRAGMENTS = st.sampled_from(
    [
        "Traceback (most recent call last):",
        '  File "/var/task/app.py", line 3, in handler',
        '  File "/var/task/app.py", line',
        '  File "x',
        "    return x[1]",
        "    ^^^^^^",
        "KeyError: 'x'",
        "ValueError:",
        "",
        "During handling of the above exception, another exception occurred:",
        "  + Exception Group Traceback (most recent call last):",
        "  | ValueError: 1",
        "  +-+---------------- 1 ----------------",
        "    +------------------------------------",
        '{"errorType": "KeyError", "stackTrace": ["  File \\"a\\", line 1, in f\\n"]}',
        '{"exc_info": "Traceback (most recent call last):\\n  File \\"',
        "[ERROR] KeyError: 'x'",
        '\u00a0\u00a0File "a.py", line 1, in f\r    x()\rKeyError: 1',
        '"message": "Traceback (most recent call last):",',
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(FRAGMENTS | st.text(max_size=40), max_size=25))
def test_fragments_never_raise(parts: list[str]) -> None:
    text = "\n".join(parts)
    for found in find_tracebacks(text):
        assert found.traceback.blocks
        render(found.traceback)
    find_in_events(LogEvent(p, n, "s") for n, p in enumerate(parts))


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_any_text_never_raises(text: str) -> None:
    find_tracebacks(text)
    find_in_events([LogEvent(text), LogEvent(text, 1, "b")])


@settings(max_examples=100, deadline=None)
@given(st.binary())
def test_any_bytes_read_or_refused(data: bytes) -> None:
    try:
        pairs = read_log_input(data)
    except UnreadableInput:
        return
    for _group_name, events in pairs:
        find_in_events(events)
