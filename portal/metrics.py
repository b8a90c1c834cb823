"""GET /metrics: Prometheus text exposition of what the assembly registered."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from portal.auth.dependencies import require_role
from portal.context import ContextDep

router = APIRouter()


# Token-protected, not open on loopback: behind a reverse proxy on the same host every
# request would come from loopback. Prometheus sends an admin's API token
# (`authorization: {credentials_file: ...}` in its scrape config).
@router.get("/metrics", tags=["operations"], response_class=Response,
            dependencies=[Depends(require_role("admin"))],
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(ctx: ContextDep) -> Response:
    return Response(ctx.metrics(), media_type=CONTENT_TYPE_LATEST)
