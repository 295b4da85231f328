"""The live panel offers the run's notebook once the run has finished, in a real browser: the link
arrives with the run's `finished` event (htmx asks for it then), and downloading it gives the notebook."""

import re

from playwright.sync_api import expect


def test_the_notebook_link_appears_when_the_run_finishes(page):
    page.goto("/play/softmax?dataset=digits&batch_size=32&epochs=3&lang=en")
    page.locator("#train").click()
    link = page.get_by_test_id("notebook-link")
    expect(page.locator("#live-panel")).to_be_visible(timeout=30_000)
    expect(page.locator("#epoch-rows tr")).to_have_count(3, timeout=60_000)
    expect(link).to_be_visible(timeout=30_000)
    run_id = page.locator("#live-panel").get_attribute("data-run-id")
    expect(link).to_have_attribute("href", f"/api/runs/{run_id}/notebook.ipynb?lang=en")
    with page.expect_download() as download:
        link.click()
    assert re.fullmatch(rf"d2l-softmax-{run_id}\.ipynb", download.value.suggested_filename)
