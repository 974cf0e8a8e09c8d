"""GitHub calls per fix: a count, not a timing, so it can be a test."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bot.testing.contracts import require_contracts

BENCH = Path(__file__).resolve().parents[1] / "bench" / "api_calls.py"


async def test_a_fix_with_warm_caches_costs_at_most_eight_calls(tmp_path):
    require_contracts()
    spec = importlib.util.spec_from_file_location("bench_api_calls", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    total, routes = await bench.measure(tmp_path)
    assert total <= 8, routes
    # The cached tree and blob mean no tree or contents read for the second fix.
    assert not any(
        "/git/trees/" in route and route.startswith("GET") for route in routes
    )
