"""Engineers: the list, and one engineer's route of jobs for the job app."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from portal.auth.dependencies import GuardedRoute, JobActor, own_engineer, staff_only
from portal.context import SessionDep
from portal.queries.engineers import list_engineers
from portal.queries.jobs import route_of
from portal.schemas.engineers import EngineerPublic

router = APIRouter(route_class=GuardedRoute)


@router.get("/api/engineers", tags=["engineers"], dependencies=[Depends(staff_only)])
def engineers(session: SessionDep) -> list[EngineerPublic]:
    return list_engineers(session)


@router.get("/api/engineers/{engineer_id}/jobs", tags=["engineer app"])
def engineer_jobs(engineer_id: str, session: SessionDep, principal: JobActor
                  ) -> list[dict[str, Any]]:
    """The engineer's open jobs in route order, with ETAs and a navigation link."""
    own_engineer(engineer_id, principal)
    return route_of(session, engineer_id)
