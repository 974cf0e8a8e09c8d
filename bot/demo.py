"""`self-heal demo`: the whole path on a bundled real payload, with stand-ins.

The bot runs as a real server on loopback. GitHub and Bedrock are played by
the stand-ins of `bot.testing`; the forwarder handler runs on the bundled
CloudWatch Logs subscription event, exactly as Lambda would call it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import boto3
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lambda_forwarder.handler import forward
from lambda_forwarder.settings import Settings as ForwarderSettings

from .app import WORKER_KEY, make_app
from .fixing.bedrock import BedrockProvider
from .fixing.edits import unified_diff
from .settings import Settings
from .testing import webhooks
from .testing.bedrock import FakeBedrock
from .testing.github import FakeGitHub

DEMO_APP_ID = 424242
DEMO_INSTALLATION_ID = 4242
DEMO_REPO = "example-org/bucket-scanner"
DEMO_WEBHOOK_SECRET = "demo-webhook-secret"
DEMO_KEY_ID = "demo-forwarder"
DEMO_FORWARDER_SECRET = "demo-forwarder-secret"
DEMO_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


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


def new_app_key() -> tuple[str, str]:
    """A throwaway RSA key pair for the stand-in app: (private, public) PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )
    return private, public


@contextlib.asynccontextmanager
async def running_bot(app: web.Application) -> AsyncIterator[str]:
    """Serve the app on a free loopback port; yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def run_demo(workdir: Path) -> DemoResult:
    data = demo_data()
    private_pem, public_pem = new_app_key()
    github = FakeGitHub(DEMO_APP_ID, public_pem)
    bedrock = FakeBedrock()
    async with github.serve() as github_url, bedrock.serve() as bedrock_url:
        github.add_installation(DEMO_INSTALLATION_ID, DEMO_REPO.split("/")[0])
        github.add_repo(DEMO_INSTALLATION_ID, DEMO_REPO, repo_files(data / "repo"))
        bedrock.script((data / "answer.md").read_text())
        settings = Settings(
            app_id=str(DEMO_APP_ID),
            private_key=private_pem,
            webhook_secret=DEMO_WEBHOOK_SECRET,
            forwarder_key_id=DEMO_KEY_ID,
            forwarder_secret=DEMO_FORWARDER_SECRET,
            model_id=DEMO_MODEL,
            database=str(workdir / "self-heal.sqlite3"),
            github_api_url=github_url,
            bedrock_endpoint_url=bedrock_url,
        )
        # The stand-in checks that a SigV4 signature is there, not whose it is.
        provider = BedrockProvider(
            region="us-east-1",
            endpoint_url=bedrock_url,
            session=boto3.session.Session(
                aws_access_key_id="stand-in", aws_secret_access_key="stand-in"
            ),
        )
        app = make_app(settings, provider=provider, sync_on_start=False)
        async with running_bot(app) as bot_url:
            worker = app[WORKER_KEY]
            # The app is installed: GitHub tells the bot.
            async with aiohttp.ClientSession() as session:
                await webhooks.post(
                    session,
                    f"{bot_url}/webhooks/github",
                    DEMO_WEBHOOK_SECRET,
                    "installation",
                    webhooks.installation_created(github, DEMO_INSTALLATION_ID),
                )
            await worker.drain()
            # CloudWatch Logs calls the forwarder with the subscription event.
            event = json.loads((data / "payload.json").read_text())
            record = await asyncio.to_thread(
                forward,
                event,
                settings=ForwarderSettings(bot_url, DEMO_KEY_ID, DEMO_FORWARDER_SECRET),
            )
            await worker.drain()
        pulls = github.pulls(DEMO_REPO)
        diff = ""
        for pull in pulls:
            base, head = pull["base"]["ref"], pull["head"]["ref"]
            changed = {
                path: github.file(DEMO_REPO, head, path) or ""
                for path in repo_files(data / "repo")
                if github.file(DEMO_REPO, head, path)
                != github.file(DEMO_REPO, base, path)
            }
            before = {path: github.file(DEMO_REPO, base, path) for path in changed}
            diff += unified_diff(before, changed)
        return DemoResult(
            pulls=pulls,
            diff=diff,
            forwarder_record=record,
            github_calls=len(github.calls),
            model_calls=len(bedrock.calls),
            violations=github.violations + bedrock.violations,
            contract_checked=github.contract_checked,
        )


def print_result(result: DemoResult, out: TextIO) -> None:
    checks = (
        "checked against GitHub's OpenAPI description"
        if result.contract_checked
        else "NOT contract-checked: run scripts/fetch-contracts to turn checks on"
    )
    print("self-heal demo: GitHub and Bedrock are played by local stand-ins", file=out)
    print(f"  (stand-in GitHub {checks}; stand-in Bedrock checked", file=out)
    print("   against botocore's bedrock-runtime model)", file=out)
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
    with tempfile.TemporaryDirectory(prefix="self-heal-demo-") as tmp:
        result = asyncio.run(run_demo(Path(tmp)))
    print_result(result, out)
    return 0 if result.pulls and not result.violations else 1
