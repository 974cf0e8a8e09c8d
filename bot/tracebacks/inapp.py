"""Decide whether a frame's file is the application's own code.

The rule lives in `is_in_app` only, so parsing, fingerprints and the fixer agree.
"""

from __future__ import annotations

import functools
import re

# Library trees: installed packages, the standard library (POSIX `lib/python3.x/`,
# Windows `Python3x\Lib\`), the Lambda runtime and vendored copies.
_LIBRARY_RE = re.compile(
    r"/(?:site|dist)-packages/"
    r"|/lib(?:64)?/python\d(?:\.\d+)?t?/"
    r"|/python\d+[^/]*/lib/"
    r"|^/var/runtime/"
    r"|/(?:_vendor|vendor|node_modules)/"
    r"|^/usr/lib/python"
    r"|/\.pyenv/versions/[^/]+/lib/"
    r"|/pypy\d*[^/]*/lib",
    re.IGNORECASE,
)
# Where deploy tools put the function's code; what follows is module-relative.
DEPLOY_ROOT_RE = re.compile(
    r"^(?:[a-z]:)?(?:"
    r"/var/task/|/opt/python/|/usr/src/app/|/usr/app/|/app/|/code/|/srv/app/"
    r"|/workspace/|/home/[^/]+/|/users/[^/]+/|/root/|/opt/app/"
    r")",
    re.IGNORECASE,
)
# Third-party distributions that are often bundled next to the handler
# (`pip install -t .` for Lambda zips) and therefore sit under /var/task.
VENDORED = frozenset(
    {
        "aws_lambda_powertools",
        "aws_xray_sdk",
        "boto3",
        "botocore",
        "certifi",
        "chardet",
        "charset_normalizer",
        "dateutil",
        "idna",
        "jmespath",
        "pydantic",
        "pydantic_core",
        "requests",
        "s3transfer",
        "six.py",
        "typing_extensions.py",
        "urllib3",
        "yaml",
        "jwt",
        "sqlalchemy",
        "psycopg2",
        "pymysql",
        "simplejson",
        "google",
        "grpc",
    }
)


def normalize_path(path: str) -> str:
    """Forward slashes, no `./` lead."""
    norm = path.replace("\\", "/")
    while norm.startswith("./"):
        norm = norm[2:]
    return norm


# Cached: a log repeats the same few paths in every traceback's frames.
@functools.lru_cache(maxsize=4096)
def is_in_app(path: str | None) -> bool:
    """Whether `path` is application code rather than library or synthetic code.

    Unknown paths (a frame cut before its file name) count as application code:
    a cut log should not hide the frame the fix is probably in.
    """
    if not path:
        return True
    if path.startswith("<") and path.endswith(">"):
        # <frozen importlib._bootstrap>, <string>, <stdin>: nothing in the repo.
        return False
    norm = normalize_path(path)
    if _LIBRARY_RE.search(norm):
        return False
    root = DEPLOY_ROOT_RE.match(norm)
    if root:
        first = norm[root.end() :].split("/", 1)[0]
        if first in VENDORED:
            return False
    return True
