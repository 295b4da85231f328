"""The 2-D sets' data controls in a real browser: noise, number of points, test share and data seed kept
in the URL, shown only for the 2-D sets; Regenerate draws a new data seed and so other points; the map
draws training and test points apart, the test points behind a toggle."""

from urllib.parse import parse_qs

from playwright.sync_api import expect

QUICK = "epochs=1&batch_size=64"


def query_of(page) -> dict:
    """The address bar's query as the page set it (history.replaceState), one value per name."""
    search = page.evaluate("location.search").lstrip("?")
    return {name: values[0] for name, values in parse_qs(search).items()}


def drawn(page) -> dict:
    return page.evaluate("window.playground.drawn || null")


def train_and_wait_for_points(page, before=None):
    """Train, then wait until the map has drawn this run's points (other points than `before`)."""
    page.locator("#train").click()
    page.wait_for_function(
        "(before) => { const d = window.playground.drawn;"
        " return d && d.train.length > 0 && JSON.stringify(d.train) !== JSON.stringify(before); }",
        arg=before,  # compared as the page holds it (a Python repr never equals the page's JSON)
    )
    expect(page.locator("#status")).to_contain_text("training ended", timeout=60_000)


def test_the_data_controls_round_trip_through_the_url(page):
    page.goto("/play/mlp?dataset=spiral")
    for name, value in (("noise", "0.4"), ("n_examples", "300"), ("test_share", "0.3"), ("data_seed", "42")):
        page.locator(f"#f-{name}").fill(value)
    query = query_of(page)
    assert (query["noise"], query["n_examples"], query["test_share"], query["data_seed"]) == (
        "0.4",
        "300",
        "0.3",
        "42",
    )
    page.goto(page.evaluate("location.href"))
    expect(page.locator("#f-noise")).to_have_value("0.4")
    expect(page.locator("#f-n_examples")).to_have_value("300")
    expect(page.locator("#f-test_share")).to_have_value("0.3")
    expect(page.locator("#f-data_seed")).to_have_value("42")


def test_a_test_share_out_of_bounds_is_named_before_sending(page):
    page.goto("/play/softmax?dataset=blobs")
    page.locator("#f-test_share").fill("0.9")
    page.locator("#train").click()
    expect(page.locator("#f-test_share-problem")).to_contain_text("test_share")
    expect(page.locator("#f-test_share-problem")).to_contain_text("0.5")


def test_the_data_controls_show_only_for_the_2d_sets(page):
    page.goto("/play/softmax?dataset=blobs")
    expect(page.locator("#toy2d-controls")).to_be_visible()
    page.locator("#f-dataset").select_option("digits")
    expect(page.locator("#toy2d-controls")).to_be_hidden()
    page.locator("#f-dataset").select_option("xor")
    expect(page.locator("#toy2d-controls")).to_be_visible()
    page.goto("/play/mlp?dataset=digits")
    expect(page.locator("#toy2d-controls")).to_be_hidden()
    page.goto("/play/linreg")
    expect(page.locator("#toy2d-controls")).to_have_count(0)


def test_regenerate_draws_a_new_data_seed_and_other_points(page):
    page.goto(f"/play/softmax?dataset=blobs&{QUICK}")
    expect(page.locator("#f-data_seed")).to_have_value("0")
    train_and_wait_for_points(page)
    first = drawn(page)
    page.locator("#regenerate").click()
    seed = page.locator("#f-data_seed").input_value()
    assert seed != "0" and 1 <= int(seed) < 2**31
    assert query_of(page)["data_seed"] == seed
    page.locator("#regenerate").click()
    assert page.locator("#f-data_seed").input_value() != seed  # each click another seed
    seed = page.locator("#f-data_seed").input_value()
    train_and_wait_for_points(page, before=first["train"])
    second = drawn(page)
    assert second["train"] != first["train"] and second["test"] != first["test"]
    # the same link draws the same points again
    page.goto(page.evaluate("location.href"))
    expect(page.locator("#f-data_seed")).to_have_value(seed)
    page.evaluate("window.playground.drawn = null")
    train_and_wait_for_points(page)
    assert drawn(page) == second


def test_the_map_draws_training_and_test_points_and_hides_the_test_points_on_request(page):
    page.goto(f"/play/mlp?dataset=circles&n_examples=200&test_share=0.4&{QUICK}")
    page.evaluate("window.playground.drawn = null")
    train_and_wait_for_points(page)
    points = drawn(page)
    assert (len(points["train"]), len(points["test"])) == (120, 80)
    expect(page.locator("#picture-legend")).to_contain_text("training points")
    toggle = page.locator("#show-test-points")
    expect(toggle).to_be_checked()
    toggle.uncheck()
    page.wait_for_function("() => window.playground.drawn.test.length === 0")
    assert len(drawn(page)["train"]) == 120
    expect(page.locator("#picture-caption")).to_contain_text("test points are hidden")
    toggle.check()
    page.wait_for_function("() => window.playground.drawn.test.length === 80")
    expect(page.locator("#picture-caption")).to_contain_text("test points inside their class")
