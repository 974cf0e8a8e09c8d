"""Redaction: each secret shape is scrubbed; ordinary traceback text is not."""

from __future__ import annotations

import pytest

from bot.tracebacks import (
    ExceptionBlock,
    Frame,
    Traceback,
    find_tracebacks,
    redact,
    redact_traceback,
)

# Fake credentials built at run time so the file itself trips no scanner.
AKIA = "AKIA" + "IOSFODNN7EXAMPLE"
ASIA = "ASIA" + "Y34FZKBOKMUTVV7A"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
GHP = "ghp_" + "16C7e42F292c6912E7710c838347Ae178B4a"
GHO = "gho_" + "16C7e42F292c6912E7710c838347Ae178B4a"
GHU = "ghu_" + "16C7e42F292c6912E7710c838347Ae178B4a"
GHS = "ghs_" + "16C7e42F292c6912E7710c838347Ae178B4a"
GHR = (
    "ghr_"
    + "1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498"
)
PAT = (
    "github_pat_"
    + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c3Jk\nq0Xw==\n"
    "-----END RSA PRIVATE KEY-----"
)

SECRETS = [
    ("aws key id", f"client = boto3.client('s3', aws_access_key_id='{AKIA}')", AKIA),
    ("aws session key id", f"Credentials for {ASIA} expired", ASIA),
    ("aws secret assignment", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
    ("aws secret json", f'{{"AWS_SECRET_ACCESS_KEY": "{AWS_SECRET}"}}', AWS_SECRET),
    ("ghp", f"Bad credentials for token {GHP}", GHP),
    ("gho", f"oauth={GHO}", GHO),
    ("ghu", f"user token {GHU} rejected", GHU),
    ("ghs", f"installation token {GHS}", GHS),
    ("ghr", f"refresh {GHR}", GHR),
    ("github pat", f"GITHUB_TOKEN is {PAT}", PAT),
    ("jwt", f"InvalidSignatureError: {JWT}", JWT),
    (
        "bearer header",
        "headers={'Authorization': 'Bearer abcdef0123456789ABCDEF'}",
        "abcdef0123456789ABCDEF",
    ),
    (
        "bearer lower",
        "authorization: bearer zyx987654321abcdefg.hij",
        "zyx987654321abcdefg.hij",
    ),
    (
        "token header",
        "Authorization: token 0123456789abcdef0123",
        "0123456789abcdef0123",
    ),
    (
        "basic header",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "dXNlcjpwYXNzd29yZA==",
    ),
    ("postgres url", "postgresql://app:s3cr3t-pw@db.internal:5432/app", "s3cr3t-pw"),
    ("redis url", "redis://:hunter2@cache:6379/0", "hunter2"),
    ("mysql url", "mysql+pymysql://root:toor@localhost/db", "toor"),
    ("amqp url", "amqp://guest:Gu3st!pass@rabbit//", "Gu3st!pass"),
    ("https url", "https://deploy:tok3nvalue@github.com/org/repo.git", "tok3nvalue"),
    ("connection string", "Server=db;User Id=sa;Password=P@ssw0rd!;", "P@ssw0rd!"),
    ("pwd in dsn", "host=db user=app pwd=letmein123 dbname=x", "letmein123"),
    ("pem", f"key = '''{PEM}'''", "MIIEpAIBAAKCAQEA1c3Jk"),
    (
        "pem cut",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "MIIEvQIBADANB",
    ),
    (
        "email",
        "User john.doe+test@example.co.uk not found",
        "john.doe+test@example.co.uk",
    ),
    (
        "email in repr",
        "ValueError: invalid recipient 'alice@corp.example'",
        "alice@corp.example",
    ),
    (
        "password kwarg",
        "connect(host='db', password='hunter2hunter2')",
        "hunter2hunter2",
    ),
    ("password assignment", "DB_PASSWORD=correcthorse", "correcthorse"),
    ("secret assignment", "client_secret = 'abc123def456ghi'", "abc123def456ghi"),
    ("token assignment", "refresh_token=rt-0a1b2c3d4e5f", "rt-0a1b2c3d4e5f"),
    ("api key assignment", "api_key: sk_abcdef1234567890", "sk_abcdef1234567890"),
    ("api-key header", "X-Api-Key=QWERTY123456", "QWERTY123456"),
    ("json password", '{"username": "bob", "password": "pa55word"}', "pa55word"),
    (
        "gitlab",
        "git clone failed with glpat-abcdefghij0123456789",
        "glpat-abcdefghij0123456789",
    ),
    (
        "slack",
        "slack hook failed xoxb-1234567890-abcdefghij",
        "xoxb-1234567890-abcdefghij",
    ),
    (
        "stripe",
        "stripe.error.AuthenticationError: sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ),
    (
        "google api key",
        "key=AIzaSyD-1234567890abcdefghijklmnopqrstu",
        "AIzaSyD-1234567890abcdefghijklmnopqrstu",
    ),
]


@pytest.mark.parametrize(
    ("text", "secret"), [s[1:] for s in SECRETS], ids=[s[0] for s in SECRETS]
)
def test_secret_is_scrubbed(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "[REDACTED:" in out


def test_placeholders_name_what_was_removed() -> None:
    assert redact(AKIA) == "[REDACTED:aws-access-key-id]"
    assert redact(GHP) == "[REDACTED:github-token]"
    assert redact(JWT) == "[REDACTED:jwt]"
    assert redact("a@b.example") == "[REDACTED:email]"
    assert redact("postgres://u:pw@h/db") == "postgres://u:[REDACTED:url-password]@h/db"


NEGATIVES = [
    (
        "posix path",
        'File "/var/task/app/handlers/orders.py", line 212, in lambda_handler',
    ),
    (
        "windows path",
        r'File "C:\Users\user\AppData\Local\Programs\Python\Python36-32\lib\runpy.py"',
    ),
    (
        "site-packages",
        "/opt/venvs/x/lib/python3.11/site-packages/passlib/handlers/bcrypt.py",
    ),
    ("sha1", "commit 3cecef6a1b2c3d4e5f60718293a4b5c6d7e8f901 broke it"),
    (
        "sha256",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ),
    ("git short sha", "at 936bd3b in main"),
    ("line numbers", "line 1021, in raise_for_status"),
    ("uuid", "RequestId: 8b0a5f2e-3c1d-4e5f-9a8b-7c6d5e4f3a2b Version: $LATEST"),
    ("version", "gunicorn 19.3.0 on Python 3.12.1 (boto3 1.34.2)"),
    ("keyerror", "KeyError: 'password'"),
    ("source line", "    user.password = hash_password(raw)"),
    ("token variable", "    token = get_token(request)"),
    ("url without password", "https://github.com/org/repo/pull/12#issuecomment-1"),
    ("decorator", "@app.route('/orders')"),
    ("timestamp", "2026-12-03T16:01:04.123Z"),
    ("hex address", "<traceback object at 0x7fb482e0e4c0>"),
    ("docstring key", "The SECRET_KEY setting must not be empty."),
]


@pytest.mark.parametrize(
    "text", [n[1] for n in NEGATIVES], ids=[n[0] for n in NEGATIVES]
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact(text) == text


def test_redact_traceback_keeps_structure() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/var/task/app.py", line 9, in handler\n'
        "    connect('postgresql://app:s3cr3t@db/app')\n"
        "psycopg2.OperationalError: auth failed for alice@corp.example\n"
    )
    (found,) = find_tracebacks(text)
    clean = redact_traceback(found.traceback)
    assert clean.final.type == "psycopg2.OperationalError"
    assert "alice@corp.example" not in clean.final.message
    assert "s3cr3t" not in clean.final.frames[0].source
    assert clean.final.frames[0].file == "/var/task/app.py"
    assert clean.final.frames[0].line == 9
    # The input is not modified.
    assert "s3cr3t" in found.traceback.final.frames[0].source


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("psycopg2.connect(passwd='hunter2hunter2')", "passwd='"),
        ("SECRET_KEY = 'x9f8s7d6f5g4h3j2k1l0'", "SECRET_KEY = '"),
        ('{\\"password\\": \\"hunter2hunter2\\"}', '{\\"password\\": \\"'),
        ("body=user%3Dbob%26password%3Dhunter2hunter2%26next%3D1", "%26next%3D1"),
        ("DB_PASS=hunter2hunter2", "DB_PASS="),
    ],
    ids=["passwd", "suffixed-name", "json-escaped", "url-encoded", "db-pass"],
)
def test_assignments_in_their_other_spellings(text, kept):
    """Regression: each of these went through untouched (adversarial review)."""
    out = redact(text)
    assert "hunter2hunter2" not in out and "x9f8s7d6f5g4h3j2k1l0" not in out
    assert kept in out and "[REDACTED:secret]" in out


def test_a_url_encoded_email():
    assert redact("notify(to=alice%40example.com)") == "notify(to=[REDACTED:email])"


def test_file_function_and_type_are_redacted_too():
    tb = Traceback(
        [
            ExceptionBlock(
                type="ghp_" + "Q" * 36,
                message="m",
                frames=[
                    Frame("/home/alice@example.com/app.py", 3, "h_bob@example.com")
                ],
            )
        ]
    )
    clean = redact_traceback(tb)
    assert clean.final.type == "[REDACTED:github-token]"
    assert clean.final.frames[0].file == "/home/[REDACTED:email]/app.py"
    assert "example.com" not in clean.final.frames[0].function
