"""`/docs` in a real browser with no outside network: Swagger UI is bundled, so the
API's operations render, under the pages' own Content-Security-Policy (the page
fixture fails on anything fetched from outside and on any CSP violation)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from test_pages_in_browser import _shot, browser, page  # noqa: F401 (fixtures)

from support import RunningCloud


def test_the_api_docs_render_offline(cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    # Nothing outside the machine answers: the docs must not need it.
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith(
        "http://127.0.0.1") else route.continue_())
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{cloud.base_url}/docs")
    expect(page.get_by_role("heading", name=re.compile(r"^FieldPulse 0\.1\.0"))).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/devices").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    _shot(page, "api-docs-offline")
