"""Playwright for Python driving Debian's Chromium against a real server."""

import pytest
from playwright.sync_api import sync_playwright

from tests.server import running_server

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Not waiting for the workers: they start (about 5 s) while Chromium launches and the first page
    # loads, and a run sent before they are ready waits in the queue as on a real server.
    with running_server(tmp_path_factory.mktemp("browser"), workers=2, worker_threads=1) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.base, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
