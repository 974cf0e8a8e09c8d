"""installation and installation_repositories: keep the installation index."""

from __future__ import annotations

import logging
from typing import Any

import gidgethub.routing
import gidgethub.sansio

from ..services import Services

logger = logging.getLogger(__name__)
router = gidgethub.routing.Router()

SYNC_ALL_JOB = "sync_all"
SYNC_INSTALLATION_JOB = "sync_installation"


@router.register("installation", action="created")
async def installation_created(
    event: gidgethub.sansio.Event, services: Services
) -> None:
    installation_id = _record_installation(event, services)
    for repo in event.data.get("repositories") or []:
        services.store.put_repo(repo["full_name"], installation_id, None)
    services.queue.put(SYNC_INSTALLATION_JOB, {"installation_id": installation_id})
    logger.info("installation.created", extra={"installation_id": installation_id})


@router.register("installation", action="deleted")
async def installation_deleted(
    event: gidgethub.sansio.Event, services: Services
) -> None:
    installation_id = event.data["installation"]["id"]
    services.store.delete_installation(installation_id)
    services.github.forget_installation(installation_id)
    logger.info("installation.deleted", extra={"installation_id": installation_id})


@router.register("installation", action="suspend")
async def installation_suspended(
    event: gidgethub.sansio.Event, services: Services
) -> None:
    installation_id = _record_installation(event, services)
    services.store.set_suspended(installation_id, True)
    # GitHub refuses a suspended installation's tokens; drop ours at once.
    services.github.forget_installation(installation_id)
    logger.info("installation.suspended", extra={"installation_id": installation_id})


@router.register("installation", action="unsuspend")
async def installation_unsuspended(
    event: gidgethub.sansio.Event, services: Services
) -> None:
    installation_id = _record_installation(event, services)
    services.store.set_suspended(installation_id, False)
    # Configs may have changed while the app could not read them.
    services.queue.put(SYNC_INSTALLATION_JOB, {"installation_id": installation_id})
    logger.info("installation.unsuspended", extra={"installation_id": installation_id})


@router.register("installation_repositories", action="added")
async def repositories_added(event: gidgethub.sansio.Event, services: Services) -> None:
    installation_id = _record_installation(event, services)
    names = [repo["full_name"] for repo in event.data.get("repositories_added", [])]
    for full_name in names:
        services.store.put_repo(full_name, installation_id, None)
    services.queue.put(
        SYNC_INSTALLATION_JOB, {"installation_id": installation_id, "repos": names}
    )
    logger.info(
        "repos.added", extra={"installation_id": installation_id, "repos": names}
    )


@router.register("installation_repositories", action="removed")
async def repositories_removed(
    event: gidgethub.sansio.Event, services: Services
) -> None:
    installation_id = event.data["installation"]["id"]
    names = [repo["full_name"] for repo in event.data.get("repositories_removed", [])]
    for full_name in names:
        services.store.remove_repo(full_name)
    logger.info(
        "repos.removed", extra={"installation_id": installation_id, "repos": names}
    )


def _record_installation(event: gidgethub.sansio.Event, services: Services) -> int:
    installation = event.data["installation"]
    services.store.put_installation(
        installation["id"], installation["account"]["login"]
    )
    return int(installation["id"])


async def sync_all(services: Services, payload: dict[str, Any]) -> None:
    """List every installation, so an index lost with the database comes back."""
    gh = services.github.app_client()
    seen = set()
    async for installation in gh.getiter("/app/installations"):
        installation_id = installation["id"]
        seen.add(installation_id)
        services.store.put_installation(
            installation_id, installation["account"]["login"]
        )
        # Both ways: a suspension may have been lifted while we were down.
        suspended = bool(installation.get("suspended_at"))
        services.store.set_suspended(installation_id, suspended)
        if not suspended:
            services.queue.put(
                SYNC_INSTALLATION_JOB, {"installation_id": installation_id}
            )
    # Uninstalled while we were down: GitHub lists the app's every installation.
    gone = [i for i in services.store.installation_ids() if i not in seen]
    for installation_id in gone:
        services.store.delete_installation(installation_id)
    logger.info("installations.synced", extra={"count": len(seen), "gone": gone})


async def sync_installation(services: Services, payload: dict[str, Any]) -> None:
    """Record an installation's repositories and load their configs.

    With `repos` in the payload only those configs are loaded; without it,
    every one is, and repositories the installation lost are dropped.
    """
    from .config import load_config

    installation_id = int(payload["installation_id"])
    if not services.store.installation_active(installation_id):
        return
    gh = await services.github.installation_client(installation_id)
    names = []
    async for repo in gh.getiter(
        "/installation/repositories", iterable_key="repositories"
    ):
        services.store.put_repo(
            repo["full_name"], installation_id, repo["default_branch"]
        )
        names.append(repo["full_name"])
    wanted = payload.get("repos")
    if wanted is None:
        for row in services.store.configured_repos(installation_id):
            if row["full_name"] not in names:
                services.store.remove_repo(row["full_name"])
    for full_name in names if wanted is None else [n for n in wanted if n in names]:
        await load_config(services, gh, full_name)
    logger.info(
        "installation.synced",
        extra={"installation_id": installation_id, "repos": len(names)},
    )
