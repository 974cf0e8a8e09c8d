"""pull_request closed or reopened: the fingerprint counts as fixed or declined."""

from __future__ import annotations

import logging

import gidgethub.routing
import gidgethub.sansio

from ..services import Services
from ..store import FixState

logger = logging.getLogger(__name__)
router = gidgethub.routing.Router()


@router.register("pull_request", action="closed")
async def pull_closed(event: gidgethub.sansio.Event, services: Services) -> None:
    full_name = event.data["repository"]["full_name"]
    pull = event.data["pull_request"]
    fix = services.store.fix_by_pr(full_name, pull["number"])
    # A muted fix was closed by /ignore: it stays muted, not declined.
    if fix is None or fix.state is not FixState.OPEN:
        return
    state = FixState.FIXED if pull.get("merged") else FixState.DECLINED
    services.store.update_fix(full_name, fix.fingerprint, state=state)
    logger.info(
        "fix.closed",
        extra={"repo": full_name, "pr": pull["number"], "state": state.value},
    )


@router.register("pull_request", action="reopened")
async def pull_reopened(event: gidgethub.sansio.Event, services: Services) -> None:
    # Open again, so a /retry builds on this PR instead of opening a second one.
    full_name = event.data["repository"]["full_name"]
    number = event.data["pull_request"]["number"]
    fix = services.store.fix_by_pr(full_name, number)
    if fix is None or fix.state not in (FixState.DECLINED, FixState.MUTED):
        return
    services.store.update_fix(full_name, fix.fingerprint, state=FixState.OPEN)
    logger.info("fix.reopened", extra={"repo": full_name, "pr": number})
