"""The code that is running (issue 16), on a real server: the panel beside each playground holds the source
of the very functions the trainer calls for each (model, impl), each pitfall shows the line it changes,
headings speak the visitor's language, the fold goes through the address, and bad values get a 422."""

import html
import inspect
import re
import textwrap

import httpx
import pytest
from pygments.formatters import HtmlFormatter

from app.training import code, trainer
from app.training.models import IMPLEMENTATIONS
from app.web import code_panel
from app.web.i18n import messages

PAIRS = list(code.SECTIONS)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def get(server, path: str, lang: str = "en", **params) -> httpx.Response:
    """A request of its own (no cookie jar), so only ?lang= chooses the language."""
    return httpx.get(server.base + path, params={"lang": lang, **params}, timeout=30)


def text_of(page: str) -> str:
    """What the HTML reads as plain text: tags stripped, entities unescaped."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def book_source(obj) -> str:
    """The object's source as its module holds it (inspect reads the module's file), dedented."""
    return textwrap.dedent(inspect.getsource(obj)).rstrip()


def sections_of(page: str, css_class: str) -> list[str]:
    return re.findall(rf'<section class="{css_class}"[^>]*>(.*?)</section>', page, re.S)


@pytest.mark.parametrize("model, impl", PAIRS)
def test_the_panel_holds_the_source_of_every_function_the_trainer_calls(server, model, impl):
    panel = get(server, "/code-panel", model=model, impl=impl)
    assert panel.status_code == 200, panel.text
    shown = text_of(panel.text)
    for block in code.blocks(model, impl):
        for source in block.objects:
            assert book_source(source.resolve()) in shown, (model, impl, source)
    model_class = IMPLEMENTATIONS[model, impl]  # what the trainer builds and calls, step by step
    for method in (model_class.__init__, model_class.forward, model_class.loss, model_class.train_step):
        assert book_source(method) in shown, (model, impl, method)
    for function in (trainer.minibatches, trainer.evaluate):
        assert book_source(function) in shown
    page = get(server, f"/play/{model}", impl=impl)  # the playground draws the same panel
    assert page.status_code == 200 and panel.text.strip() in page.text


def test_each_part_is_headed_by_its_book_section(server):
    panel = get(server, "/code-panel", model="linreg", impl="scratch").text
    headings = re.findall(r"<h3 id=\"code-h-(\w+)\">(.*?)</h3>", panel)
    assert [part for part, _ in headings] == list(code.PARTS)
    assert ("model", "d2l 3.2 · the model") in [(p, html.unescape(h)) for p, h in headings]
    concise = get(server, "/code-panel", model="softmax", impl="concise").text
    assert "d2l 3.7 · the loss" in text_of(concise) and "nn.CrossEntropyLoss" in text_of(concise)


@pytest.mark.parametrize("model, impl", PAIRS)
def test_each_pitfall_shows_the_line_it_changes_before_and_after(server, model, impl):
    for pitfall in code.pitfalls_for(model, impl):
        change = code.pitfall_change(pitfall, model, impl)
        panel = get(server, "/code-panel", model=model, impl=impl, **{pitfall: "on"}).text
        [switched_on] = sections_of(panel, "code-pitfalls code-pitfalls-on")
        diff = text_of(switched_on)
        assert pitfall in diff and change.function in diff
        assert change.before in diff and (change.after in diff if change.after else "skipped" in diff)
        assert messages()[f"code.why.{pitfall}"]["en"] in diff
        marked = [
            text_of(line).strip() for line in re.findall(r'<span class="hll">(.*?)\n</span>', panel, re.S)
        ]
        assert change.line in marked and (change.after or change.before in marked), marked
        off = get(server, "/code-panel", model=model, impl=impl).text  # off: folded under "could switch on"
        assert not sections_of(off, "code-pitfalls code-pitfalls-on")
        assert f'data-pitfall="{pitfall}"' in off and change.before in text_of(off)
        assert 'class="hll"' not in off


def test_the_broadcast_bug_reads_as_the_book_warns(server):
    panel = text_of(get(server, "/code-panel", model="linreg", impl="scratch", broadcast_bug="on").text)
    assert "target = y.view(y_hat.shape)" in panel and "target = y.view(-1)" in panel


def test_the_panel_speaks_chinese(server):
    panel = get(server, "/code-panel", "zh", model="linreg", impl="scratch", broadcast_bug="on").text
    headings = [text_of(h) for h in re.findall(r"<h3[^>]*>(.*?)</h3>", panel)]
    assert "d2l 3.2 · 模型" in headings and "d2l 3.2 · 损失函数" in headings
    assert all(CHINESE.search(heading) for heading in headings), headings
    assert messages()["code.why.broadcast_bug"]["zh"] in text_of(panel)
    page = get(server, "/play/mlp", "zh").text
    assert messages()["code.title"]["zh"] in page and messages()["code.title"]["en"] not in page
    english = get(server, "/code-panel", model="linreg", impl="scratch").text
    assert not CHINESE.search(text_of(english))


def test_the_fold_goes_through_the_address(server):
    def is_open(page: str) -> bool:
        return re.search(r'<details id="code-panel" class="code-panel"( open)?>', page).group(1) is not None

    assert is_open(get(server, "/play/linreg").text)  # a playground opens with the code shown
    folded = get(server, "/play/linreg", code="0", impl="concise").text
    assert not is_open(folded)
    assert "code=0" in html.unescape(re.search(r'<a href="([^"]*)" lang="zh"', folded).group(1))
    assert is_open(get(server, "/play/linreg", code="1").text)
    run_id = server.client.post("/api/runs", json={"model": "linreg", "epochs": 1}).json()["id"]
    assert not is_open(get(server, f"/runs/{run_id}").text)  # a run's page keeps it folded
    assert is_open(get(server, f"/runs/{run_id}", code="1").text)


def test_a_runs_page_shows_the_code_of_that_run(server):
    spec = {"model": "softmax", "dataset": "blobs", "epochs": 1, "impl": "concise", "skip_zero_grad": True}
    run_id = server.client.post("/api/runs", json=spec).json()["id"]
    page = get(server, f"/runs/{run_id}").text
    assert book_source(IMPLEMENTATIONS["softmax", "concise"].__init__) in text_of(page)
    [switched_on] = sections_of(page, "code-pitfalls code-pitfalls-on")
    assert "skip_zero_grad" in switched_on and "self.optimizer.zero_grad()" in text_of(switched_on)
    assert 'hx-get="/code-panel"' not in page  # a run's code does not follow a form


def test_a_class_playground_shows_the_code_with_the_teachers_locked_values(server):
    teacher, student = (httpx.Client(base_url=server.base, timeout=30) for _ in range(2))
    created = teacher.post(
        "/api/classes", json={"title": "3.2", "preset": "lesson:broadcast_bug", "unlocked": ["lr"]}
    )
    assert created.status_code == 201, created.text
    code_ = created.json()["code"]
    assert student.post(f"/api/classes/{code_}/students", json={"name": "Ada"}).status_code == 201
    page = student.get(f"/classes/{code_}").text
    assert 'id="code-panel"' in page and "target = y.view(-1)" in text_of(page)
    [settings] = re.findall(r'<div id="code-settings" hidden>(.*?)</div>', page, re.S)
    assert 'name="broadcast_bug" value="on"' in settings and 'name="impl" value="scratch"' in settings


@pytest.mark.parametrize(
    "params, field",
    [
        ({"model": "nope"}, "model"),
        ({}, "model"),
        ({"model": "linreg", "impl": "fast"}, "impl"),
        ({"model": "linreg", "broadcast_bug": "maybe"}, "broadcast_bug"),
        ({"model": "softmax", "broadcast_bug": "on"}, "broadcast_bug"),
        ({"model": "softmax", "impl": "concise", "naive_softmax": "on"}, "naive_softmax"),
    ],
)
def test_bad_values_get_a_422_in_the_visitors_language(server, params, field):
    for lang in ("en", "zh"):
        answer = get(server, "/code-panel", lang, **params)
        assert answer.status_code == 422, answer.text
        assert messages()["code.problem"][lang] in answer.text and 'role="alert"' in answer.text
        label = messages().get(f"play.{field}", {}).get(lang, field)  # zh names a field by its label
        assert field in html.unescape(answer.text) or label in answer.text
        assert bool(CHINESE.search(text_of(answer.text))) == (lang == "zh")
    browser = httpx.get(  # a browser that opened the address gets a whole page
        server.base + "/code-panel", params={"lang": "zh", **params}, headers={"Accept": "text/html"}
    )
    assert browser.status_code == 422 and "<!doctype html>" in browser.text
    assert messages()["code.problem"]["zh"] in browser.text


def test_the_stylesheet_is_pygments_own_for_the_chosen_style():
    sheet = code_panel.STYLESHEET.read_text(encoding="utf-8")
    assert (
        sheet
        == HtmlFormatter(style=code_panel.STYLE, cssclass="highlight").get_style_defs(".highlight") + "\n"
    )
    assert "style=" not in code_panel.panel_body(
        "mlp", "scratch", ("naive_softmax",), "en"
    )  # no inline styles


def test_the_body_is_highlighted_once_per_model_impl_pitfalls_and_language():
    code_panel.panel_body.cache_clear()
    first = code_panel.panel_body("linreg", "scratch", ("broadcast_bug",), "zh")
    again = code_panel.panel_body("linreg", "scratch", ("broadcast_bug",), "zh")
    assert again is first and code_panel.panel_body.cache_info().hits == 1


def test_the_panel_leaves_the_web_process_without_torch(server):
    for model, impl in PAIRS:
        assert get(server, "/code-panel", model=model, impl=impl).status_code == 200
    with open(f"/proc/{server.process.pid}/maps") as maps:
        assert "libtorch" not in maps.read()
