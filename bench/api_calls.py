"""GitHub API calls for one fix, against the contract-checked stand-in.

Run by hand: `python bench/api_calls.py`. A first error warms the caches (the
installation token, the tree of the base commit); the figure is the calls a
second, different error then costs, from occurrence to labelled pull request.
The last line is `github_calls_per_fix: N`.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bot.demo import DEMO_INSTALLATION_ID, DEMO_REPO, demo_data, repo_files
from bot.testing import webhooks
from bot.testing.harness import running_bot

# A second, different error in the same file: tags listed without a TagSet.
SECOND_MESSAGE = (
    "[ERROR] KeyError: 'TagSet'\nTraceback (most recent call last):\n"
    '  File "/var/task/scan.py", line 222, in lambda_handler\n'
    "    set_status_tag(s3_object, status, timestamp)\n"
    '  File "/var/task/scan.py", line 128, in set_status_tag\n'
    "    tags = current_tags(s3_object)\n"
    '  File "/var/task/scan.py", line 123, in current_tags\n'
    '    return {tag["Key"]: tag["Value"] for tag in response["TagSet"]}'
)
SECOND_ANSWER = """\
## Title
Treat an object without tags as having none

## Root cause
`current_tags` assumes the tagging response always holds `TagSet`.

## Explanation
Read `TagSet` with a default of no tags.

## Edits
scan.py
<<<<<<< SEARCH
    return {tag["Key"]: tag["Value"] for tag in response["TagSet"]}
=======
    return {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}
>>>>>>> REPLACE
"""


def _second_payload(first: dict) -> dict:
    decoded = json.loads(gzip.decompress(base64.b64decode(first["awslogs"]["data"])))
    decoded["logEvents"][0]["message"] = SECOND_MESSAGE
    # A later log event: a new id, so the bot does not take it for a retry.
    decoded["logEvents"][0]["id"] = "9" * 56
    decoded["logEvents"][0]["timestamp"] += 60_000
    raw = gzip.compress(json.dumps(decoded).encode())
    return {"awslogs": {"data": base64.b64encode(raw).decode()}}


async def measure(workdir: Path) -> tuple[int, Counter[str]]:
    data = demo_data()
    first = json.loads((data / "payload.json").read_text())
    async with running_bot(workdir) as bot:
        bot.github.add_installation(DEMO_INSTALLATION_ID, "example-org")
        bot.github.add_repo(DEMO_INSTALLATION_ID, DEMO_REPO, repo_files(data / "repo"))
        await bot.webhook(
            "installation",
            webhooks.installation_created(bot.github, DEMO_INSTALLATION_ID),
        )
        await bot.drain()
        bot.bedrock.script((data / "answer.md").read_text())
        await bot.forward(first)
        await bot.drain()
        before = len(bot.github.calls)
        bot.bedrock.script(SECOND_ANSWER)
        await bot.forward(_second_payload(first))
        await bot.drain()
        calls = bot.github.calls[before:]
        if len(bot.github.pulls(DEMO_REPO)) != 2 or bot.github.violations:
            raise SystemExit(f"the bench run went wrong: {bot.github.violations}")
        return len(calls), Counter(f"{method} {path}" for method, path, _ in calls)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        total, routes = asyncio.run(measure(Path(tmp)))
    for route, count in sorted(routes.items()):
        print(f"{count:>3}  {route}", file=sys.stdout)
    print(f"github_calls_per_fix: {total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
