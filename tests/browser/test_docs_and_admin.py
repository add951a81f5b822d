"""A real browser: Swagger UI renders offline, and staff use the admin site."""

from urllib.parse import urlparse

import pytest


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_lists_operations_without_leaving_localhost(live_server, page, artifacts):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)

    operations = page.locator(".opblock-summary-path").all_inner_texts()
    page.screenshot(path=str(artifacts / "docs.png"), full_page=False)
    assert "/api/v1/booking/hold" in " ".join(operations)
    assert len(operations) >= 30
    server_host = urlparse(live_server.url).hostname
    outside = [
        url for url in requested if urlparse(url).scheme in ("http", "https") and urlparse(url).hostname != server_host
    ]
    assert requested, "the page made no requests at all"
    assert outside == [], f"requests left the machine: {outside}"
