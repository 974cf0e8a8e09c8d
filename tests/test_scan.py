"""`self-heal scan` on the three input kinds, through the real console entry."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

CASES = Path(__file__).parent / "cases" / "tracebacks"
GROUP_KEYS = ["fingerprint", "count", "log_groups", "exception", "frames", "chain"]


def _case(prefix: str) -> Path:
    (path,) = CASES.glob(f"{prefix}-*")
    return path


def _scan_json(capsys, *paths: str) -> dict:
    assert main(["scan", "--json", *paths]) == 0
    return json.loads(capsys.readouterr().out)


def test_plain_text_groups_in_the_promised_shape(capsys):
    out = _scan_json(capsys, str(_case("025") / "input.log"))
    (group,) = out["groups"]
    assert list(group)[: len(GROUP_KEYS)] == GROUP_KEYS
    assert group["exception"]["type"] == "ImportError"
    assert [f["function"] for f in group["frames"]] == ["<module>", "main"]
    assert all(
        set(f) == {"file", "line", "function", "in_app"} for f in group["frames"]
    )
    (earlier,) = group["chain"]
    assert earlier["type"] == "ModuleNotFoundError"
    assert earlier["relation"] == "cause"
    assert earlier["frames"][0]["line"] == 10


def test_a_lambda_subscription_event(capsys):
    out = _scan_json(capsys, str(_case("001") / "payload.json"))
    (group,) = out["groups"]
    assert group["log_groups"] == ["/aws/lambda/example-function"]
    assert group["exception"] == {"type": "KeyError", "message": "'Records'"}
    assert group["frames"][-1]["line"] == 51


def test_a_decoded_payload_and_the_aws_cli_json(tmp_path, capsys):
    decoded = json.loads((_case("001") / "payload.decoded.json").read_text())
    decoded_file = tmp_path / "decoded.json"
    decoded_file.write_text(json.dumps(decoded))
    cli_output = tmp_path / "filter-log-events.json"
    cli_output.write_text(
        json.dumps(
            {
                "events": [
                    {
                        "logStreamName": decoded["logStream"],
                        "timestamp": e["timestamp"],
                        "message": e["message"],
                        "eventId": e["id"],
                    }
                    for e in decoded["logEvents"]
                ],
                "searchedLogStreams": [],
            }
        )
    )
    out = _scan_json(capsys, str(decoded_file), str(cli_output))
    (group,) = out["groups"]
    assert group["count"] == 2  # one error, seen through two inputs


def test_groups_come_most_frequent_first(tmp_path, capsys):
    once = (_case("019") / "input.log").read_text()
    twice = (_case("037") / "input.log").read_text()
    log = tmp_path / "app.log"
    log.write_text(f"{once}\n{twice}\nnoise\n{twice}\n")
    out = _scan_json(capsys, str(log))
    assert [g["count"] for g in out["groups"]] == [2, 1]
    assert out["groups"][0]["exception"]["type"] == "TypeError"


def test_messages_are_redacted(tmp_path, capsys):
    log = tmp_path / "app.log"
    log.write_text(
        "Traceback (most recent call last):\n"
        '  File "/app/db.py", line 3, in connect\n'
        "    engine.connect()\n"
        "OperationalError: cannot reach postgresql://app:hunter2secret@db:5432/x\n"
    )
    out = _scan_json(capsys, str(log))
    message = out["groups"][0]["exception"]["message"]
    assert "hunter2secret" not in message
    assert "REDACTED" in message


def test_stdin_with_no_traceback_prints_an_empty_list():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from bot.cli import main; sys.exit(main())",
            "scan",
            "--json",
            "-",
        ],
        input=b"just a log line\n",
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"groups": []}


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 4,
        b'{"awslogs": {"data": "!!!not base64"}}',
        b'{"awslogs": {"data": "' + base64.b64encode(b"not gzip") + b'"}}',
    ],
    ids=["binary", "bad-base64", "not-gzip"],
)
def test_unreadable_input_is_one_line_and_exit_2(tmp_path, capsys, content):
    path = tmp_path / "input"
    path.write_bytes(content)
    assert main(["scan", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("self-heal scan: ") and err.count("\n") == 1


def test_gzipped_log_text_is_read(tmp_path, capsys):
    path = tmp_path / "app.log.gz"
    path.write_bytes(gzip.compress((_case("019") / "input.log").read_bytes()))
    out = _scan_json(capsys, str(path))
    assert out["groups"][0]["exception"]["type"] == "ZeroDivisionError"


def test_plain_output_names_the_innermost_in_app_frame(capsys):
    assert main(["scan", str(_case("045") / "input.log")]) == 0
    out = capsys.readouterr().out
    assert "json.decoder.JSONDecodeError" in out
    # The last frame is stdlib; the line shown is the app's own.
    assert "dcard/posts.py:100 in format" in out


def test_renderings_of_one_error_group_and_show_the_fullest(capsys):
    """Case 007: a terminal overprint, a cut console row and the full event."""
    out = _scan_json(capsys, str(_case("007") / "input.log"))
    (group,) = out["groups"]
    assert group["count"] == 3
    assert group["exception"]["type"] == "KeyError"
    assert group["frames"][-1]["function"] == "notify_followers"


def test_an_unreadable_file_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(range(256)) * 4)
    assert main(["scan", str(_case("019") / "input.log"), str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err
