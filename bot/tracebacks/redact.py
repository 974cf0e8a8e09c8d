"""Scrub credentials and personal data from traceback text before it leaves.

Own patterns, not detect-secrets: this package ships in the forwarder Lambda
and must stay standard-library only, and detect-secrets is built to scan files
and report findings (plugins, baselines, entropy scoring), not to rewrite text
in place. The shapes below follow its plugin patterns (AWS, GitHub, JWT, basic
auth, private keys, keyword assignments) plus a few more token formats.

Each match becomes `[REDACTED:<kind>]`. Patterns are anchored on a prefix or a
keyword, so paths, git/sha hashes, line numbers, UUIDs and version strings are
left alone.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .model import ExceptionBlock, Frame, Location, Traceback

__all__ = ["redact", "redact_traceback"]

# A keyword may stand inside a longer name (`DB_PASSWORD`, `SECRET_KEY`,
# `db_pass`), so letters may come before it and a `_suffix` after it.
# A keyword starts a word or follows a separator (`DB_PASSWORD`, `x-api-key`;
# not `bypass`), and may carry a `_suffix` (`SECRET_KEY`) unless the suffix
# says the value is no secret (`token_count`, `password_reset`).
_KEYWORDS = (
    r"(?:[a-z0-9]+[_.-])*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key"
    r"|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key"
    r"|account[_-]?key|shared[_-]?access[_-]?key|credentials?|session[_-]?key"
    r"|signing[_-]?key)"
    r"(?!_(?:count|type|len|length|limit|name|path|file|url|uri|expires?"
    r"|expiry|ttl|max|min|size|index|hint|prompt|reset|required|field|mode)\b)"
    r"(?:_[a-z0-9]+)*"
)
# `=`, `==`, `:` as written, URL-encoded (%3D, %3A), or after a JSON-escaped
# quote; a comparison in a source line is a hard-coded secret all the same.
_ASSIGN = r"\\?['\"]?\s*(?:==?|:(?!:)|%3[dDaA])\s*\\?"
# A value runs to a quote, separator or escape; %26 (an encoded &) ends it too.
# Template placeholders (`${API_KEY}`, `{{ token }}`) are no values.
_VALUE = r"(?:[^\s'\",;&}\\%]|%(?!26)[0-9A-Fa-f]{2})"
_NOT_PLACEHOLDER = r"(?!\$\{|\{\{|%\(|\[REDACTED)"
# Where a keyword may start: a word's start, or after an encoded & , or =.
_START = r"(?:\b|(?<=%26)|(?<=%2[cC])|(?<=%3[dD]))"

# (kind, pattern, group to replace or 0 for the whole match); order matters:
# specific token shapes first, generic keyword assignments last.
_RULES: tuple[tuple[str, re.Pattern[str], int], ...] = (
    (
        "private-key",
        re.compile(
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----"
            r"[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)"
        ),
        0,
    ),
    ("github-token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,255}\b"), 0),
    ("github-token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"), 0),
    (
        "aws-access-key-id",
        re.compile(
            r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"
        ),
        0,
    ),
    (
        "aws-secret-access-key",
        re.compile(
            r"(?i)(aws.{0,20}?(?:secret|key).{0,20}?['\"]?\s*[:=]\s*['\"]?)"
            r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        2,
    ),
    (
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
        0,
    ),
    ("gitlab-token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), 0),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), 0),
    (
        "slack-webhook",
        re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9/_-]{10,}"),
        0,
    ),
    ("npm-token", re.compile(r"\bnpm_[A-Za-z0-9]{30,}"), 0),
    ("huggingface-token", re.compile(r"\bhf_[A-Za-z0-9]{30,}"), 0),
    ("stripe-key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"), 0),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), 0),
    ("openai-key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}"), 0),
    (
        # Whatever scheme follows (Digest, AWS4-HMAC-SHA256, Negotiate...),
        # the rest of an Authorization or Cookie header is the credential.
        "auth-header",
        re.compile(r"(?i)(\b(?:authorization|cookie)\s*:\s*)([^\r\n']{6,})"),
        2,
    ),
    (
        "signed-url",
        re.compile(
            r"(?i)([?&](?:sig|signature|X-Amz-Signature|X-Amz-Credential"
            r"|X-Amz-Security-Token)=)([^&\s'\"]+)"
        ),
        2,
    ),
    (
        "netrc-password",
        re.compile(r"(?i)(\blogin\s+\S+\s+password\s+)(\S+)"),
        2,
    ),
    (
        "bearer-credential",
        re.compile(r"(?i)\b(bearer|token)(\s+)([A-Za-z0-9._~+/=-]{16,})"),
        3,
    ),
    (
        "basic-credential",
        re.compile(r"(?i)\b(basic)(\s+)([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])"),
        3,
    ),
    (
        # The password runs to the last `@` before the host, so one holding
        # `/` or `@` is still removed whole.
        "url-password",
        re.compile(
            r"(\b[a-zA-Z][\w+.-]*://[^\s:/@'\"]*:)([^\s'\"]{1,256}?)(@)"
            r"(?=[^\s@/'\"]+(?:[/?#:\s'\")]|$))"
        ),
        2,
    ),
    (
        "password",
        re.compile(r"(?i)(\b(?:password|pwd)\s*=(?!=)\s*)([^\s;'\"]+)(?=;|\s|$)"),
        2,
    ),
    (
        # A quoted value runs to its closing quote, spaces and all.
        "secret",
        re.compile(
            r"(?i)("
            + _START
            + _KEYWORDS
            + _ASSIGN
            + r"(\\?['\"]))"
            + _NOT_PLACEHOLDER
            + r"((?:(?!\\?\2).){3,512}?)(?=\\?\2)"
        ),
        3,
    ),
    (
        "secret",
        re.compile(
            r"(?i)("
            + _START
            + _KEYWORDS
            + _ASSIGN
            + r"['\"]?)"
            + _NOT_PLACEHOLDER
            + r"("
            + _VALUE
            + r"{3,})"
        ),
        2,
    ),
    (
        "email",
        re.compile(
            # Starting only where a run of address characters starts keeps
            # this linear on long runs that hold no `@`.
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+"
            r"(?:\.[A-Za-z0-9-]+)*"
            r"\.[A-Za-z]{2,}\b"
        ),
        0,
    ),
)
# A call or a subscript of a name: `get_token(req)`, `os.environ[`, `form[`.
# The value may stop at a quote inside the call: `get(` of `get('X-Token')`.
_CODE_RE = re.compile(r"[A-Za-z_][\w.]*(?:\((?:.*\))?|\[.*)")
# Cheap screen: text without any of these cannot match a rule.
_SCREEN_RE = re.compile(
    r"(?i)PRIVATE KEY|gh[pousr]_|github_pat_|A3T|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA"
    r"|ANPA|aws|eyJ|xox|glpat|_live_|_test_|AIza|sk-|bearer|token|basic|://|pass|pwd"
    r"|secret|key|credential|@|%40|slack|npm_|hf_|authorization|cookie|sig|login"
)


def redact(text: str) -> str:
    """`text` with credentials and e-mail addresses replaced by placeholders."""
    if not text or not _SCREEN_RE.search(text):
        return text
    for kind, pattern, group in _RULES:
        text = pattern.sub(_replacer(kind, group), text)
    return text


def _replacer(kind: str, group: int):
    placeholder = f"[REDACTED:{kind}]"

    def repl(match: re.Match[str]) -> str:
        if group == 0:
            return placeholder
        whole = match.group()
        if kind in ("password", "secret") and _looks_like_code(match.group(group)):
            return whole
        start, end = match.span(group)
        base = match.start()
        return whole[: start - base] + placeholder + whole[end - base :]

    return repl


def _looks_like_code(value: str) -> bool:
    """A source line's expression (`get_token(req)`, `form["password"]`), not a
    value. Anything else is redacted: a dotted value may be a passphrase, and
    hiding a variable name costs a reader little."""
    return bool(_CODE_RE.fullmatch(value)) or value in ("None", "True", "False", "self")


def redact_traceback(tb: Traceback) -> Traceback:
    """A copy of `tb` with every text field redacted.

    Not only messages: a sender can put anything in a file name, a function
    or a type, and each of them reaches prompts and pull requests.
    """
    return Traceback([_block(b) for b in tb.blocks], partial=tb.partial)


def _block(block: ExceptionBlock) -> ExceptionBlock:
    return ExceptionBlock(
        type=redact(block.type) if block.type else block.type,
        message=redact(block.message) if block.message else block.message,
        frames=[_frame(f) for f in block.frames],
        relation=block.relation,
        syntax_error=_location(block.syntax_error),
        notes=[redact(n) for n in block.notes],
        sub_exceptions=[redact_traceback(t) for t in block.sub_exceptions],
    )


def _frame(frame: Frame) -> Frame:
    return replace(
        frame,
        file=_maybe(frame.file),
        function=_maybe(frame.function),
        source=_maybe(frame.source),
    )


def _location(where: Location | None) -> Location | None:
    if where is None:
        return where
    return Location(_maybe(where.file), where.line, _maybe(where.source))


def _maybe(text: str | None) -> str | None:
    return redact(text) if text else text
