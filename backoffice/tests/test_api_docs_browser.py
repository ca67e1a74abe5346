"""`/api/docs/` in a real browser with every request off the live server's host aborted: Swagger UI comes
from the installed drf-spectacular-sidecar, so it renders with no network (and asks nothing elsewhere)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from backoffice.multisig.tests.browser import log_in
from conftest import TEST_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_the_api_docs_render_with_every_off_host_request_blocked(live_server: Any, page: Any) -> None:
    host = urlsplit(live_server.url).netloc
    local, blocked = [], []

    def only_the_live_server(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc == host or url.startswith(("data:", "blob:")):
            local.append(url)
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    User.objects.create_user("docs-reader", password=TEST_PASSWORD, is_staff=True)
    log_in(page, live_server.url, "docs-reader", "/admin/")
    page.route("**/*", only_the_live_server)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(f"{live_server.url}/api/docs/")
    assert response is not None and response.status == 200
    # Staff only (logged in above); the UI drew the operations it read from /api/schema/.
    expect(page.locator(".swagger-ui .information-container .title")).to_contain_text("USDKG back-office API")
    operations = page.locator(".swagger-ui .opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 10
    expect(page.locator(".swagger-ui .opblock-summary-path", has_text="/api/multisig/transactions/{id}/typed-data/")
           ).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert blocked == [] and errors == [], (blocked, errors)
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in local), local
    assert any(url.startswith(f"{live_server.url}/api/schema/") for url in local), local
