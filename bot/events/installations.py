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
    installation = event.data["installation"]
    services.store.put_installation(
        installation["id"], installation["account"]["login"]
    )
    services.queue.put(SYNC_INSTALLATION_JOB, {"installation_id": installation["id"]})


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
    services.store.set_suspended(event.data["installation"]["id"], True)


@router.register("installation", action="unsuspend")
async def installation_unsuspended(
    event: gidgethub.sansio.Event, services: Services
) -> None:
    installation = event.data["installation"]
    services.store.put_installation(
        installation["id"], installation["account"]["login"]
    )
    services.store.set_suspended(installation["id"], False)
    services.queue.put(SYNC_INSTALLATION_JOB, {"installation_id": installation["id"]})


@router.register("installation_repositories", action="added")
async def repositories_added(event: gidgethub.sansio.Event, services: Services) -> None:
    installation = event.data["installation"]
    services.store.put_installation(
        installation["id"], installation["account"]["login"]
    )
    services.queue.put(SYNC_INSTALLATION_JOB, {"installation_id": installation["id"]})


@router.register("installation_repositories", action="removed")
async def repositories_removed(
    event: gidgethub.sansio.Event, services: Services
) -> None:
    for repo in event.data.get("repositories_removed", []):
        services.store.remove_repo(repo["full_name"])
        logger.info("repo.removed", extra={"repo": repo["full_name"]})


async def sync_all(services: Services, payload: dict[str, Any]) -> None:
    """List every installation, so an index lost with the database comes back."""
    gh = services.github.app_client()
    seen = []
    async for installation in gh.getiter("/app/installations"):
        seen.append(installation["id"])
        services.store.put_installation(
            installation["id"], installation["account"]["login"]
        )
        if installation.get("suspended_at"):
            services.store.set_suspended(installation["id"], True)
            continue
        services.queue.put(
            SYNC_INSTALLATION_JOB, {"installation_id": installation["id"]}
        )
    logger.info("installations.synced", extra={"count": len(seen)})


async def sync_installation(services: Services, payload: dict[str, Any]) -> None:
    """Record an installation's repositories and load each one's config."""
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
    for full_name in names:
        await load_config(services, gh, full_name)
    logger.info(
        "installation.synced",
        extra={"installation_id": installation_id, "repos": len(names)},
    )
