"""Classroom mode in a real browser: a teacher's board on the projector and three students, one on a phone.

The class pushes the naive-softmax lesson (softmax regression on digits with the book's softmax written out)
with only the learning rate unlocked: two students train at small rates, one at 10, whose exponentials
overflow, and the board groups that student with their rate.
"""

import math
import re

import pytest
from playwright.sync_api import expect

PHONE = {"width": 390, "height": 844}


def set_lr(page, lr: float) -> None:
    page.locator("#lr-slider").evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true}));"
        " el.dispatchEvent(new Event('change', {bubbles: true})); }",
        str(math.log10(lr)),
    )


@pytest.fixture
def contexts(browser, server):
    made = []

    def new(viewport=None):
        context = browser.new_context(
            base_url=server.base, viewport=viewport or {"width": 1280, "height": 900}, bypass_csp=True
        )
        made.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield new
    for context in made:
        context.close()


def test_a_class_trains_on_three_phones_and_the_board_shows_it_live(contexts):
    board = contexts({"width": 1920, "height": 1080})
    board.goto("/classes/new")
    board.locator("#class-title").fill("Week 3: learning rates")
    board.locator("#class-preset").select_option("lesson:naive_softmax_overflows")
    for box in board.locator("input[name=unlocked]").all():
        box.set_checked(box.get_attribute("value") == "lr")
    board.locator("#start-class").click()
    board.wait_for_url(re.compile(r".*/classes/[A-Z2-9]{6}/board$"))
    code = board.locator("#join-code").inner_text().strip()
    assert board.locator("#join-qr").evaluate("img => img.complete && img.naturalWidth > 0")

    students = []
    for name, lr, viewport in (("Ana", 0.03, PHONE), ("Bo", 0.3, None), ("<b>Cy</b>", 10.0, None)):
        page = contexts(viewport)
        if name == "Ana":  # typed on the home page
            page.goto("/")
            page.locator("#join-code-input").fill(code.lower())
            page.locator("#join-code-input").press("Enter")
        else:
            page.goto(f"/classes/{code}")
        page.locator("#student-name").fill(name)
        page.locator("#join").click()
        expect(page.locator("#settings")).to_be_visible()
        expect(page.locator("#lr-slider")).to_be_enabled()
        for locked in ("#f-batch_size", "#f-epochs", "#f-dataset", "#f-seed", "#f-naive_softmax"):
            expect(page.locator(locked)).to_be_disabled()
        expect(page.locator("#locked-note")).to_contain_text("Week 3: learning rates")
        set_lr(page, lr)
        students.append(page)
    phone = students[0]
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for page in students:
        page.locator("#train").click()
        expect(page.locator("#status")).to_be_visible()

    # The board: three curves, the leaderboard in order, the diverged student grouped with their rate.
    expect(board.locator("#board-counts dd[data-count=joined]")).to_have_text("3")
    expect(board.locator("#board-counts dd[data-count=diverged]")).to_have_text("1", timeout=90_000)
    expect(board.locator("#board-counts dd[data-count=done]")).to_have_text("2", timeout=90_000)
    rows = board.locator("#leaderboard tbody tr[data-student]")
    expect(rows).to_have_count(3)
    expect(rows.nth(2)).to_have_attribute("data-status", "diverged")
    expect(rows.nth(2)).to_contain_text("<b>Cy</b>")  # a name with markup, shown as text
    first, second = (float(rows.nth(i).locator("td.result").get_attribute("data-value")) for i in (0, 1))
    assert first >= second > 0.5
    group = board.locator("[data-testid=diverged-group]")
    expect(group).to_have_count(1)
    expect(group).to_contain_text("lr")
    expect(group).to_contain_text("10")
    expect(group).to_contain_text("<b>Cy</b>")
    assert int(board.locator("#board-chart").get_attribute("data-curves")) == 3
    assert all(s["points"] > 5 for s in board.evaluate("window.board.series()") if s["name"] != "<b>Cy</b>")

    # Spotlight a student: their run's full panel on the projector, their line bold.
    rows.nth(0).locator(".spotlight-button").click()
    expect(board.locator("#spotlight [data-run-panel]")).to_be_visible()
    bold = [s for s in board.evaluate("window.board.series()") if s["bold"]]
    assert [s["student"] for s in bold] == [int(rows.nth(0).get_attribute("data-student"))]

    # A quiz item, answered by two students; the board's bars show both; Reveal reaches the students.
    board.locator("#quiz-item-gather-picks").check()
    board.locator("#ask").click()
    for page, choice in ((students[0], "a"), (students[1], "b")):
        expect(page.locator("#quiz-form")).to_be_visible(timeout=15_000)
        page.locator(f"#quiz-form input[value={choice}]").check()
        page.locator("#quiz-send").click()
        expect(page.locator("#quiz-answer")).to_contain_text(choice)
    expect(board.locator("#quiz-answered")).to_contain_text("2")
    counts = {
        bar.get_attribute("data-answer"): int(bar.get_attribute("data-count"))
        for bar in board.locator("#quiz-bars [data-answer]").all()
    }
    assert counts["a"] == 1 and counts["b"] == 1 and sum(counts.values()) == 2
    board.locator("#reveal").click()
    expect(students[0].locator("#quiz-explanation")).to_be_visible(timeout=15_000)
    expect(students[2].locator("#quiz-explanation")).to_be_visible()
    assert board.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The teacher link opens the same board on another device, here a laptop at 150% zoom.
    link = board.locator("#teacher-url").input_value()
    laptop = contexts({"width": 1280, "height": 720})
    laptop.goto(link)
    expect(laptop.locator("#leaderboard tbody tr[data-student]")).to_have_count(3)
    assert laptop.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
