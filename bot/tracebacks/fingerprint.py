"""Fingerprints: one stable id per distinct error, whatever rendering it came in.

The rule (version "v1"), computed from the final block (the exception that
propagated):

1. Type: the last dotted component of the exception type
   (`requests.exceptions.HTTPError` -> `HTTPError`). Lambda's `[ERROR] Type:`
   header, `errorType` and Powertools' `exception_name` print the bare class
   name while a plain traceback prints it qualified; using the bare name makes
   all renderings of one error agree.
2. Call path: the innermost three in-app frames (see `inapp.is_in_app`) that
   have a function name, each as `<module path>:<function>`. The module path
   drops deploy roots (`/var/task/`, `/app/`, `/usr/src/app/`, `/opt/python/`,
   home directories, drive letters), uses `/`, and keeps the last two path
   components, so `/var/task/app/x.py` and `/app/app/x.py` agree. Line
   numbers are never used. Only the innermost frames count because renderings
   differ at the outer end (a JSON `stackTrace` starts at the handler, a plain
   traceback at `runpy`), while the inner end is where the error is.
3. Without in-app frames: the first line of the message, normalised by
   `normalize_message` (numbers, hex, UUIDs, quoted non-identifier values,
   e-mails, URLs -> placeholders), plus the SyntaxError location's module path
   if there is one.
4. An ExceptionGroup also contributes the sorted set of its members' types.

A partial rendering (cut frames, no exception line) is fingerprinted with what
it has; `parse.link` then gives it the fingerprint of a complete rendering of
the same error found in the same input, when its known pieces agree with one.
"""

from __future__ import annotations

import functools
import hashlib
import re

from .inapp import DEPLOY_ROOT_RE, normalize_path
from .model import Traceback

__all__ = ["fingerprint", "module_path", "normalize_message", "short_fingerprint"]

_VERSION = "v1"
_FRAMES = 3
_UUID_RE = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL_RE = re.compile(r"\b[a-zA-Z][\w+.-]*://\S+")
_QUOTED_RE = re.compile(r"'([^'\n]*)'|\"([^\"\n]*)\"")
_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z_.]*")
_HEX_RE = re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b")
_ID_RE = re.compile(r"\b(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*\b")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_SPACE_RE = re.compile(r"\s+")
_SITE_RE = re.compile(r"^.*/(?:site|dist)-packages/", re.IGNORECASE)
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def fingerprint(tb: Traceback) -> str:
    """Hex sha256 of the error's identity (see the module docstring)."""
    final = tb.final
    parts = [_VERSION, _bare_type(final.type)]
    path = [
        f"{module_path(f.file)}:{f.function}"
        for f in final.frames
        if f.in_app and f.function is not None
    ][-_FRAMES:]
    if path:
        parts.append("path=" + ">".join(path))
    else:
        first = (final.message or "").split("\n", 1)[0]
        parts.append("msg=" + normalize_message(first))
        if final.syntax_error is not None and final.syntax_error.file:
            parts.append("at=" + module_path(final.syntax_error.file))
    if final.sub_exceptions:
        members = {_bare_type(t.final.type) for t in final.sub_exceptions if t.blocks}
        parts.append("members=" + ",".join(sorted(members)))
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def short_fingerprint(fp: str) -> str:
    """The first 12 hex characters, for titles and branch names."""
    return fp[:12]


# Cached: a log repeats the same few paths in every traceback's frames.
@functools.lru_cache(maxsize=4096)
def module_path(path: str | None) -> str:
    """A path without deploy roots or line-specific parts: `app/x.py`."""
    if not path:
        return "?"
    norm = normalize_path(path)
    norm = _SITE_RE.sub("", norm)
    lowered = DEPLOY_ROOT_RE.match(norm)
    if lowered:
        norm = norm[lowered.end() :]
    norm = _DRIVE_RE.sub("", norm).lstrip("/")
    return "/".join(norm.split("/")[-2:])


def normalize_message(msg: str) -> str:
    """A message with variable parts (ids, numbers, values) as placeholders."""
    out = _UUID_RE.sub("<uuid>", msg)
    out = _EMAIL_RE.sub("<email>", out)
    out = _URL_RE.sub("<url>", out)
    out = _QUOTED_RE.sub(_quoted, out)
    out = _HEX_RE.sub("<hex>", out)
    out = _ID_RE.sub(_id_or_number, out)
    out = _SPACE_RE.sub(" ", out).strip()
    return out


def _quoted(match: re.Match[str]) -> str:
    # Quoted identifiers name code ('Records', module 'handler'): keep them.
    # Anything else quoted is data: drop it.
    value = match.group(1) if match.group(1) is not None else match.group(2)
    if _IDENTIFIER_RE.fullmatch(value) and len(value) <= 64:
        return match.group()
    return "'<str>'"


def _id_or_number(match: re.Match[str]) -> str:
    token = match.group()
    if _NUMBER_RE.fullmatch(token):
        return "<n>"
    return "<id>"


def _bare_type(name: str | None) -> str:
    return name.rsplit(".", 1)[-1] if name else "?"
