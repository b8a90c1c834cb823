"""Reading service cases: every channel's cases with their SLA clocks and work orders.

Opening and changing cases through the API is `portal/intake_api.py`'s; these
routes only read. Clocks are judged as of the request (`dispatch/sla.py`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from foundations.clock import now_ms
from portal.auth.dependencies import require_role
from portal.case_queries import CaseDetail, CaseFilter, CasePublic, case_detail, list_cases
from portal.context import SessionDep
from portal.schemas import RowId

router = APIRouter(tags=["cases"], dependencies=[Depends(require_role("dispatcher", "admin"))])


@router.get("/api/cases")
def cases(
    session: SessionDep,
    status: Literal["open", "closed"] | None = None,
    device_id: Annotated[str | None, Query(max_length=100)] = None,
    customer_id: Annotated[str | None, Query(max_length=100)] = None,
    sla: Annotated[Literal["ok", "warning", "breached", "met"] | None,
                   Query(description="only cases whose worst SLA clock is in this state")
                   ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CasePublic]:
    """Cases, newest first, each with its SLA clocks (response: an engineer on site;
    resolution: the case closed) and their state now."""
    return list_cases(session, CaseFilter(status, device_id, customer_id, sla, limit),
                      now_ms())


@router.get("/api/cases/{case_id}")
def case(case_id: RowId, session: SessionDep) -> CaseDetail:
    """One case with its SLA clocks, its work orders and their timelines."""
    detail = case_detail(session, case_id, now_ms())
    if detail is None:
        raise HTTPException(404, f"no case {case_id}")
    return detail
