"""GET /metrics: Prometheus text exposition of what the assembly registered."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from portal.context import ContextDep

router = APIRouter()


@router.get("/metrics", tags=["operations"], response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(ctx: ContextDep) -> Response:
    return Response(ctx.metrics(), media_type=CONTENT_TYPE_LATEST)
