"""`self-heal demo`: the whole path on a bundled real payload, with stand-ins.

The bot runs as a real server on loopback. GitHub and Bedrock are played by
the stand-ins of `bot.testing`; the forwarder handler runs on the bundled
CloudWatch Logs subscription event, exactly as Lambda would call it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from .fixing.edits import unified_diff
from .testing import contracts, webhooks
from .testing.harness import running_bot

DEMO_INSTALLATION_ID = 4242
DEMO_REPO = "example-org/bucket-scanner"


@dataclass
class DemoResult:
    pulls: list[dict[str, Any]]
    diff: str
    forwarder_record: dict[str, Any]
    github_calls: int
    model_calls: int
    violations: list[str]
    contract_checked: bool


def demo_data() -> Path:
    return Path(str(resources.files("bot.testing") / "data" / "demo"))


def repo_files(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


async def run_demo(workdir: Path) -> DemoResult:
    data = demo_data()
    files = repo_files(data / "repo")
    async with running_bot(workdir) as bot:
        github = bot.github
        github.add_installation(DEMO_INSTALLATION_ID, DEMO_REPO.split("/")[0])
        github.add_repo(DEMO_INSTALLATION_ID, DEMO_REPO, files)
        bot.bedrock.script((data / "answer.md").read_text())
        # The app is installed: GitHub tells the bot, which reads the config.
        await bot.webhook(
            "installation",
            webhooks.installation_created(github, DEMO_INSTALLATION_ID),
        )
        await bot.drain()
        # CloudWatch Logs calls the forwarder with the subscription event.
        record = await bot.forward(json.loads((data / "payload.json").read_text()))
        await bot.drain()
        pulls = github.pulls(DEMO_REPO)
        diff = ""
        for pull in pulls:
            base, head = pull["base"]["ref"], pull["head"]["ref"]
            before = {p: github.file(DEMO_REPO, base, p) for p in files}
            after = {p: github.file(DEMO_REPO, head, p) or "" for p in files}
            changed = {p: t for p, t in after.items() if t != before[p]}
            diff += unified_diff(before, changed)
        return DemoResult(
            pulls=pulls,
            diff=diff,
            forwarder_record=record,
            github_calls=len(github.calls),
            model_calls=len(bot.bedrock.calls),
            violations=github.violations + bot.bedrock.violations,
            contract_checked=github.contract_checked,
        )


def print_result(result: DemoResult, out: TextIO) -> None:
    checks = (
        "checked against GitHub's OpenAPI description"
        if result.contract_checked
        else "NOT contract-checked: run scripts/fetch-contracts to turn checks on"
    )
    print(f"stand-in GitHub: {checks}", file=out)
    print(
        "stand-in Bedrock: checked against botocore's bedrock-runtime model; "
        "it plays a recorded answer",
        file=out,
    )
    print(
        f"forwarder: {result.forwarder_record.get('tracebacks_found')} traceback(s) "
        f"found, {result.forwarder_record.get('posts')} signed POST(s), "
        f"outcome {result.forwarder_record.get('outcome')}",
        file=out,
    )
    print(
        f"stand-in calls: GitHub {result.github_calls}, Bedrock {result.model_calls}",
        file=out,
    )
    if not result.pulls:
        print("No pull request was opened.", file=out)
    for pull in result.pulls:
        print("", file=out)
        print(f"Pull request #{pull['number']}: {pull['title']}", file=out)
        print(f"  {pull['head']['ref']} -> {pull['base']['ref']}", file=out)
        print("", file=out)
        print(pull.get("body") or "", file=out)
        print("--- diff ---", file=out)
        print(result.diff, file=out)
    if result.violations:
        print("Contract violations seen by the stand-ins:", file=out)
        for violation in result.violations:
            print(f"  - {violation}", file=out)


def main(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    missing = contracts.missing_contracts()
    if missing:
        # The stand-ins build and check webhooks from GitHub's own files.
        print(
            "self-heal demo: the GitHub contract files are missing "
            f"({', '.join(p.parent.name for p in missing)}); "
            "run scripts/fetch-contracts",
            file=sys.stderr,
        )
        return 2
    print("self-heal demo: GitHub and Bedrock are played by local stand-ins", file=out)
    out.flush()
    with tempfile.TemporaryDirectory(prefix="self-heal-demo-") as tmp:
        result = asyncio.run(run_demo(Path(tmp)))
    print_result(result, out)
    return 0 if result.pulls and not result.violations else 1
