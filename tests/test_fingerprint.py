"""Fingerprints stay put across noise and move when the error differs."""

from __future__ import annotations

import re

import pytest

from bot.tracebacks import (
    find_tracebacks,
    fingerprint,
    is_in_app,
    normalize_message,
    short_fingerprint,
)

BASE = """\
2026-12-03 10:00:00,001 app ERROR request 8b0a5f2e-3c1d-4e5f-9a8b-7c6d5e4f3a2b failed
Traceback (most recent call last):
  File "/usr/lib/python3.12/runpy.py", line 88, in _run_code
    exec(code, run_globals)
  File "/var/task/app/handler.py", line 40, in handle
    return charge(order)
  File "/var/task/app/billing.py", line 12, in charge
    total = order["amount"] * rate
  File "/var/task/requests/models.py", line 1021, in raise_for_status
    raise HTTPError(http_error_msg, response=self)
KeyError: 'amount'
"""


def fp(text: str) -> str:
    (found,) = find_tracebacks(text)
    return found.fingerprint


SAME = {
    "line numbers shift": BASE.replace("line 40", "line 52").replace(
        "line 12", "line 9"
    ),
    "deploy root": BASE.replace("/var/task/app/", "/app/app/"),
    "usr src root": BASE.replace("/var/task/app/", "/usr/src/app/app/"),
    "home dir": BASE.replace("/var/task/app/", "/home/deploy/app/"),
    "windows drive": BASE.replace('"/var/task/app/', '"C:\\srv\\app\\app\\'),
    "timestamp and request id": BASE.replace("10:00:00,001", "23:59:59,999").replace(
        "8b0a5f2e", "00000000"
    ),
    "library frames differ": BASE.replace("line 1021", "line 999").replace(
        "/var/task/requests/", "/opt/python/requests/"
    ),
    "outer stdlib frames dropped": BASE.replace(
        '  File "/usr/lib/python3.12/runpy.py", line 88, in _run_code\n'
        "    exec(code, run_globals)\n",
        "",
    ),
    "qualified type": BASE.replace("KeyError: 'amount'", "builtins.KeyError: 'amount'"),
    "message detail": BASE.replace("'amount'", "'amount_cents'"),
}

DIFFERENT = {
    "type": BASE.replace("KeyError: 'amount'", "TypeError: 'amount'"),
    "in-app function": BASE.replace("in charge", "in refund"),
    "in-app module": BASE.replace("app/billing.py", "app/invoices.py"),
    "extra in-app frame": BASE.replace(
        '  File "/var/task/requests/',
        '  File "/var/task/app/rates.py", line 3, in rate\n    x\n'
        '  File "/var/task/requests/',
    ),
}


@pytest.mark.parametrize("name", SAME)
def test_fingerprint_stays(name: str) -> None:
    assert fp(SAME[name]) == fp(BASE)


@pytest.mark.parametrize("name", DIFFERENT)
def test_fingerprint_changes(name: str) -> None:
    assert fp(DIFFERENT[name]) != fp(BASE)


NO_APP = """\
Traceback (most recent call last):
  File "/usr/lib/python3/site-packages/botocore/client.py", line 960, in _make_call
    raise error_class(parsed_response, operation_name)
botocore.exceptions.ClientError: An error occurred (ThrottlingException) when \
calling the GetItem operation (reached max retries: 4): Rate exceeded for 1234567
"""


def test_without_app_frames_the_message_counts_normalised() -> None:
    assert fp(NO_APP) == fp(
        NO_APP.replace("1234567", "99").replace("retries: 4", "retries: 9")
    )
    assert fp(NO_APP) != fp(NO_APP.replace("ThrottlingException", "AccessDenied"))
    assert fp(NO_APP) != fp(NO_APP.replace("GetItem", "PutItem"))


def test_lambda_header_and_plain_rendering_agree() -> None:
    lambda_text = (
        "[ERROR] HTTPError: 500 Server Error\nTraceback (most recent call last):\n"
        '  File "/var/task/app.py", line 14, in lambda_handler\n'
        "    ret.raise_for_status()\n"
    )
    plain = (
        "Traceback (most recent call last):\n"
        '  File "/app/app.py", line 15, in lambda_handler\n    ret.raise_for_status()\n'
        "requests.exceptions.HTTPError: 500 Server Error\n"
    )
    assert fp(lambda_text) == fp(plain)


@pytest.mark.parametrize(
    ("message", "normal"),
    [
        ("Order 12345 not found", "Order <n> not found"),
        ("id 8b0a5f2e-3c1d-4e5f-9a8b-7c6d5e4f3a2b gone", "id <uuid> gone"),
        ("at 0x7fb482e0e4c0", "at <hex>"),
        ("bad value 'a b c'", "bad value '<str>'"),
        ("No module named 'requests'", "No module named 'requests'"),
        ("user alice@example.com", "user <email>"),
        ("GET https://x.example/a?b=1 failed", "GET <url> failed"),
        ("job job-42a failed", "job <id> failed"),
        ("  spaced   out  ", "spaced out"),
    ],
)
def test_normalize_message(message: str, normal: str) -> None:
    assert normalize_message(message) == normal


def test_shapes() -> None:
    value = fp(BASE)
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert short_fingerprint(value) == value[:12]
    (found,) = find_tracebacks(BASE)
    assert fingerprint(found.traceback) == value


@pytest.mark.parametrize(
    ("path", "in_app"),
    [
        ("/var/task/app/handler.py", True),
        ("app.py", True),
        ("C:\\Users\\u\\proj\\main.py", True),
        (None, True),
        ("/usr/lib/python3.12/json/decoder.py", False),
        ("/var/lang/lib/python3.12/runpy.py", False),
        ("/home/u/venv/lib/python3.11/site-packages/requests/api.py", False),
        ("/usr/lib/python3/dist-packages/yaml/__init__.py", False),
        ("C:\\Program Files\\Python35\\lib\\asyncio\\tasks.py", False),
        ("E:\\proj\\lib\\site-packages\\torch\\__init__.py", False),
        ("<frozen importlib._bootstrap>", False),
        ("<string>", False),
        ("<stdin>", False),
        ("/var/runtime/bootstrap.py", False),
        ("/var/task/requests/models.py", False),
        ("/opt/python/aws_lambda_powertools/shared/x.py", False),
        ("/var/task/pip/_vendor/urllib3/x.py", False),
    ],
)
def test_is_in_app(path: str | None, in_app: bool) -> None:
    assert is_in_app(path) is in_app
