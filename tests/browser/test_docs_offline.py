"""/docs on a classroom LAN without internet: Swagger UI comes from this server, under the pages' CSP."""

from urllib.parse import urlsplit

import pytest

from tests.server import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """No run trains here: one worker is enough for the server to be healthy."""
    with running_server(tmp_path_factory.mktemp("docs"), workers=1, worker_threads=1) as live:
        yield live


@pytest.fixture
def offline_page(page):
    """The page with every request to anything but 127.0.0.1 aborted, as on a LAN without internet;
    the aborted URLs and the console's errors are collected."""
    page.blocked, page.errors = [], []

    def route(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            page.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def test_docs_list_the_operations_with_the_network_blocked(offline_page):
    page = offline_page
    response = page.goto("/docs")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_function("() => document.querySelectorAll('.opblock').length > 5")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/runs" in paths and "/api/runs/{run_id}" in paths
    assert page.locator(".info .title").inner_text().startswith("d2l-playground")
    page.locator(".opblock-summary-path", has_text="/api/me").first.click()  # an operation opens
    page.wait_for_function("() => document.querySelector('.opblock.is-open .opblock-body') !== null")
    assert page.blocked == [] and page.errors == []


def test_the_cdn_page_it_replaces_is_blank_under_the_same_block(offline_page, server):
    """FastAPI's own docs page, loading Swagger UI from a CDN, fails the way the issue saw it: the test's
    block is real, and what passes above is the vendored copy."""
    from fastapi.openapi.docs import get_swagger_ui_html

    page = offline_page
    cdn_page = get_swagger_ui_html(openapi_url=server.base + "/openapi.json", title="cdn").body.decode()
    page.set_content(cdn_page)
    page.wait_for_function("() => true")
    assert page.blocked and all(urlsplit(url).hostname != "127.0.0.1" for url in page.blocked)
    assert any("SwaggerUIBundle is not defined" in error for error in page.errors)
    assert page.locator(".opblock").count() == 0
