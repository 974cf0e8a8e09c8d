"""`self-heal demo` prints the pull request it opened, naming its stand-ins."""

from __future__ import annotations

import io

from bot import demo
from bot.testing.contracts import require_contracts


def test_the_demo_prints_the_pull_request_and_its_diff():
    require_contracts()
    out = io.StringIO()
    assert demo.main(out) == 0
    text = out.getvalue()
    assert text.startswith("self-heal demo: GitHub and Bedrock are played by")
    assert "Pull request #1: Report events without Records" in text
    assert '-    records = event["Records"]' in text
    assert '+    records = event.get("Records", [])' in text
    assert "forwarder.invocation" not in text


def test_without_contract_files_the_demo_says_what_to_run(
    monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv("SELF_HEAL_CONTRACTS_DIR", str(tmp_path))
    assert demo.main(io.StringIO()) == 2
    assert "scripts/fetch-contracts" in capsys.readouterr().err
