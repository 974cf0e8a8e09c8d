"""GET /setup and /setup/callback: register the GitHub App from its manifest.

The flow is GitHub's manifest flow, as Probot runs it: a page posts the
manifest to GitHub, GitHub registers the app and sends the browser back with a
one-time code, and the callback trades the code for the app's credentials.
https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import gidgethub
import yaml
from aiohttp import web

from .github.client import GitHubClient
from .settings import SetupSettings

logger = logging.getLogger(__name__)

# A link to the repository's top-level app-manifest.yml, so an installed
# package carries the manifest too.
MANIFEST_PATH = Path(__file__).resolve().parent / "app-manifest.yml"
# A state is good for one round trip to GitHub and back.
STATE_TTL_SECONDS = 3600
MAX_PENDING_STATES = 100
# GitHub's rule for user and organisation names.
ORG_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
# What the callback keeps of GitHub's answer; the OAuth client secret is not
# needed, so it is not written down.
STORED_KEYS = ("id", "slug", "html_url", "pem", "webhook_secret")

PAGE_TEMPLATE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title></head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"""

SETUP_BODY_TEMPLATE = """<p>Register this service as a GitHub App {owner}on
<a href="{github_url}">{github_url}</a>. GitHub will ask you to confirm the name,
then send you back here.</p>
<p>Webhooks will go to <code>{hook_url}</code>.</p>
<form action="{action}" method="post">
<input type="hidden" name="manifest" value="{manifest}">
<button type="submit">Register the GitHub App</button>
</form>
"""

DONE_BODY_TEMPLATE = """<p>GitHub registered the app <a href="{html_url}">{slug}</a>;
its credentials are in <code>{path}</code> (readable by this user only).</p>
<ol>
<li>Restart <code>self-heal serve</code> so it starts with the new credentials.</li>
<li><a href="{html_url}/installations/new">Install the app</a> on the
repositories whose errors it should fix.</li>
<li>Add <code>.github/self-healing.yml</code> to each of them.</li>
</ol>
"""

CONFIGURED_MESSAGE = (
    "This service already has a GitHub App ({where}); set-up is closed. To "
    "register another, stop the service and remove its credentials first."
)
BAD_STATE_MESSAGE = "The set-up link is unknown or has expired; start again at /setup."
MISSING_CODE_MESSAGE = "GitHub sent no code; start again at /setup."
BAD_ORG_MESSAGE = "?org= must be an organisation name."
EXCHANGE_FAILED_MESSAGE = (
    "GitHub did not hand over the app's credentials ({why}); codes work once "
    "and expire after an hour, so start again at /setup."
)


class SetupState:
    """The set-up flow's memory: states sent to GitHub, and whether it is done."""

    def __init__(self, settings: SetupSettings, *, app_id: str | None) -> None:
        self.settings = settings
        self.app_id = app_id
        self._states: dict[str, float] = {}

    @property
    def configured(self) -> bool:
        # The file counts too: another process may have finished set-up.
        return self.app_id is not None or Path(self.settings.credentials_file).exists()

    def where(self) -> str:
        """Where the app's credentials come from, for the refusal message."""
        if self.app_id is not None:
            return f"app id {self.app_id}"
        return f"credentials in {self.settings.credentials_file}"

    def new_state(self) -> str:
        now = time.monotonic()
        self._states = {
            s: t for s, t in self._states.items() if now - t < STATE_TTL_SECONDS
        }
        while len(self._states) >= MAX_PENDING_STATES:
            del self._states[next(iter(self._states))]
        state = secrets.token_urlsafe(24)
        self._states[state] = now
        return state

    def take_state(self, state: str) -> bool:
        """Accept a state once, if it was handed out within the hour."""
        issued = self._states.pop(state, None)
        return issued is not None and time.monotonic() - issued < STATE_TTL_SECONDS


SETUP_STATE_KEY = web.AppKey("setup_state", SetupState)


class SetupError(Exception):
    """The manifest code could not be exchanged; the message says why."""


def add_routes(
    app: web.Application, settings: SetupSettings, *, app_id: str | None
) -> None:
    """Serve the set-up pages; once an app is configured they refuse (403)."""
    app[SETUP_STATE_KEY] = SetupState(settings, app_id=app_id)
    app.router.add_get("/setup", get_setup)
    app.router.add_get("/setup/callback", get_callback)


def make_setup_app(settings: SetupSettings) -> web.Application:
    """The app an unregistered service runs: set-up pages and /healthz only."""
    app = web.Application()
    add_routes(app, settings, app_id=None)
    app.router.add_get("/healthz", _healthz)
    return app


def manifest(public_url: str) -> dict[str, Any]:
    """The app manifest with its URLs pointing at this service."""
    data = yaml.safe_load(MANIFEST_PATH.read_text())
    data["hook_attributes"]["url"] = f"{public_url}/webhooks/github"
    data["redirect_url"] = f"{public_url}/setup/callback"
    return data


def public_url(settings: SetupSettings, request: web.Request) -> str:
    """The configured public URL, else the one the browser used to get here."""
    return settings.public_url or f"{request.scheme}://{request.host}"


async def get_setup(request: web.Request) -> web.Response:
    state = request.app[SETUP_STATE_KEY]
    if state.configured:
        return _refused(state)
    settings = state.settings
    org = request.query.get("org")
    if org is not None and not ORG_RE.match(org):
        return _page("Set up", f"<p>{html.escape(BAD_ORG_MESSAGE)}</p>", status=400)
    base = public_url(settings, request)
    path = f"/organizations/{org}/settings/apps/new" if org else "/settings/apps/new"
    action = f"{settings.github_url}{path}?state={state.new_state()}"
    body = SETUP_BODY_TEMPLATE.format(
        owner=f"for the organisation {html.escape(org)} " if org else "",
        github_url=html.escape(settings.github_url),
        hook_url=html.escape(f"{base}/webhooks/github"),
        action=html.escape(action),
        manifest=html.escape(json.dumps(manifest(base))),
    )
    logger.info("setup.page_served", extra={"org": org, "public_url": base})
    return _page("Set up self-healing-code", body)


async def get_callback(request: web.Request) -> web.Response:
    state = request.app[SETUP_STATE_KEY]
    if state.configured:
        return _refused(state)
    if not state.take_state(request.query.get("state", "")):
        logger.warning("setup.bad_state")
        return _page("Set up", f"<p>{BAD_STATE_MESSAGE}</p>", status=400)
    code = request.query.get("code", "")
    if not code:
        return _page("Set up", f"<p>{MISSING_CODE_MESSAGE}</p>", status=400)
    settings = state.settings
    try:
        credentials = await exchange_code(settings.github_api_url, code)
        write_credentials(settings.credentials_file, credentials)
    except SetupError as exc:
        logger.warning("setup.exchange_failed", extra={"error": str(exc)})
        message = EXCHANGE_FAILED_MESSAGE.format(why=exc)
        return _page("Set up", f"<p>{html.escape(message)}</p>", status=502)
    except FileExistsError:
        return _refused(state)
    state.app_id = str(credentials["id"])
    logger.info(
        "setup.completed",
        extra={
            "app_id": credentials["id"],
            "slug": credentials["slug"],
            "credentials_file": settings.credentials_file,
        },
    )
    body = DONE_BODY_TEMPLATE.format(
        html_url=html.escape(str(credentials["html_url"])),
        slug=html.escape(str(credentials["slug"])),
        path=html.escape(settings.credentials_file),
    )
    return _page("The GitHub App is registered", body)


async def exchange_code(api_url: str, code: str) -> dict[str, Any]:
    """Trade a manifest code for the app's id, key and secret; raise SetupError."""
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        # Unauthenticated on purpose: the one-time code is the credential.
        gh = GitHubClient(session, base_url=api_url)
        try:
            answer = await gh.post(
                "/app-manifests/{code}/conversions", url_vars={"code": code}, data={}
            )
        except gidgethub.GitHubException as exc:
            raise SetupError(str(exc) or type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise SetupError(f"{api_url} could not be reached: {exc}") from exc
    if not isinstance(answer, Mapping):
        raise SetupError("the answer was not a JSON object")
    missing = [key for key in STORED_KEYS if not answer.get(key)]
    if missing:
        raise SetupError(f"the answer lacks {', '.join(missing)}")
    return {key: answer[key] for key in STORED_KEYS}


def write_credentials(path: str, credentials: Mapping[str, Any]) -> None:
    """Write the file readable by this user only, whole or not at all.

    Raises FileExistsError rather than replace credentials already there.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(dict(credentials), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        # A hard link appears atomically and never replaces an existing file.
        os.link(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _refused(state: SetupState) -> web.Response:
    message = CONFIGURED_MESSAGE.format(where=state.where())
    return _page("Set-up is closed", f"<p>{html.escape(message)}</p>", status=403)


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    return web.Response(
        text=PAGE_TEMPLATE.format(title=html.escape(title), body=body),
        status=status,
        content_type="text/html",
    )


async def _healthz(request: web.Request) -> web.Response:
    configured = request.app[SETUP_STATE_KEY].configured
    return web.json_response({"ok": True, "configured": configured})
