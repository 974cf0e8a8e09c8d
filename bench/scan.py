"""Benchmark: `find_tracebacks` on a ~50 MB log against reading it and splitlines().

Run by hand: `python bench/scan.py [path] [--mb N]`. The log is generated with a
fixed seed (about 1% of lines belong to tracebacks, in logging, Lambda and
JSON shapes). The last line printed is `scan_vs_splitlines: X`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.tracebacks import find_tracebacks

WORDS = [
    *("user", "order", "payment", "request", "cache", "hit", "miss", "retry"),
    *("queue", "worker", "batch", "item", "sync", "session", "upload", "stored"),
    *("download", "fetched", "updated", "created", "deleted", "record"),
]
FUNCS = ["handler", "process", "load_order", "charge", "save", "fetch", "render"]
FILES = ["/var/task/app/orders.py", "/var/task/app/billing.py", "/app/svc/api.py"]
LIBS = ["/var/lang/lib/python3.12/json/decoder.py", "/opt/python/requests/models.py"]
ERRORS = [
    ("KeyError", "'customer_id'"),
    ("ValueError", "invalid literal for int() with base 10: 'abc'"),
    ("TypeError", "'NoneType' object is not subscriptable"),
    ("botocore.exceptions.ClientError", "An error occurred (Throttling)"),
]


def _rid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _traceback(rng: random.Random) -> list[str]:
    lines = ["Traceback (most recent call last):"]
    for _ in range(rng.randint(2, 6)):
        path = rng.choice(FILES + LIBS)
        lines.append(
            f'  File "{path}", line {rng.randint(1, 900)}, in {rng.choice(FUNCS)}'
        )
        lines.append(f"    result = {rng.choice(FUNCS)}({rng.choice(WORDS)})")
    etype, message = rng.choice(ERRORS)
    lines.append(f"{etype}: {message}")
    return lines


def generate(path: Path, megabytes: int, seed: int = 20261203) -> None:
    """Write a deterministic mixed log of about `megabytes` MB to `path`."""
    rng = random.Random(seed)
    target = megabytes * 1_000_000
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            roll = rng.random()
            stamp = f"2026-12-03T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
            if roll < 0.0013:
                shape = rng.randrange(4)
                tb = _traceback(rng)
                if shape == 0:
                    chunk = [f"{stamp} app.orders ERROR failed: {text}", *tb]
                elif shape == 1:
                    etype, message = tb[-1].split(": ", 1)
                    chunk = [f"[ERROR] {etype}: {message}", *tb[:-1]]
                elif shape == 2:
                    record = {
                        "level": "ERROR",
                        "message": text,
                        "exc_info": "\n".join(tb),
                    }
                    chunk = [json.dumps(record)]
                else:
                    doc = {
                        "errorType": tb[-1].split(":")[0],
                        "errorMessage": "boom",
                        "stackTrace": [line + "\n" for line in tb[1:-1:2]],
                    }
                    chunk = [json.dumps(doc)]
            elif roll < 0.35:
                chunk = [f"[INFO]\t{stamp}\t{_rid(rng)}\t{text}"]
            elif roll < 0.6:
                level = rng.choice(["INFO", "DEBUG", "WARNING", "ERROR"])
                chunk = [
                    f"{stamp} app.{rng.choice(WORDS)} {level} {text} "
                    f"id={rng.randint(1, 10**6)}"
                ]
            elif roll < 0.8:
                record = {"level": "INFO", "message": text, "n": rng.randint(0, 999)}
                chunk = [json.dumps(record)]
            elif roll < 0.9:
                rid = _rid(rng)
                chunk = [
                    f"START RequestId: {rid} Version: $LATEST",
                    f"END RequestId: {rid}",
                    f"REPORT RequestId: {rid}\tDuration: {rng.random() * 900:.2f} ms",
                ]
            else:
                chunk = [
                    f"GET /api/{rng.choice(WORDS)}/{rng.randint(1, 9999)} 200 {text}"
                ]
            block = "\n".join(chunk) + "\n"
            out.write(block)
            written += len(block)


def _best(func, repeat: int = 3) -> tuple[float, object]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", help="log file (generated if missing)")
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    path = (
        Path(args.path) if args.path else Path(tempfile.gettempdir()) / "scan-bench.log"
    )
    if not path.exists():
        generate(path, args.mb)
    size = path.stat().st_size / 1e6

    def floor():
        return path.read_text(encoding="utf-8").splitlines()

    def scan():
        return find_tracebacks(path.read_text(encoding="utf-8"))

    floor_s, lines = _best(floor)
    scan_s, found = _best(scan)
    tb_lines = sum(f.text.count("\n") + 1 for f in found)
    print(f"file: {path} ({size:.1f} MB, {len(lines)} lines)")
    print(f"tracebacks: {len(found)} ({tb_lines / max(len(lines), 1):.2%} of lines)")
    print(f"read+splitlines: {floor_s:.3f}s  read+find_tracebacks: {scan_s:.3f}s")
    print(f"scan_vs_splitlines: {scan_s / floor_s:.2f}")


if __name__ == "__main__":
    main()
