"""pull_request closed: the fingerprint counts as fixed or declined."""

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
    if fix is None or fix.state is not FixState.OPEN:
        return
    state = FixState.FIXED if pull.get("merged") else FixState.DECLINED
    services.store.update_fix(full_name, fix.fingerprint, state=state)
    logger.info(
        "fix.closed",
        extra={"repo": full_name, "pr": pull["number"], "state": state.value},
    )
