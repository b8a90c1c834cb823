"""The API's interactive documentation (`/docs`): Swagger UI bundled under
`/static/vendor/swagger-ui/` (swagger-ui-dist 5.35.0, Apache-2.0) and started by a
script of our own, so the page works without any outside network and under the
pages' strict Content-Security-Policy. `/docs/oauth2-redirect` is FastAPI's."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse, Response

from portal.auth.dependencies import GuardedRoute
from portal.rendering import render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/docs")
def api_docs(request: Request) -> Response:
    return render(request, "api_docs.html", {})


@router.get("/docs/oauth2-redirect")
def oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
