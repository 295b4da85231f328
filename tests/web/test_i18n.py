"""Every page in Chinese and English: each t("key") exists in both languages, and the labels follow ?lang=."""

import json
import re
from pathlib import Path

import httpx
import pytest
from markupsafe import escape

from app.web.i18n import LANGUAGES, messages
from app.web.templating import render

ROOT = Path(__file__).resolve().parents[2]
KEY = re.compile(r"""\bt\(\s*["']([^"']+)["']\s*\)""")
PAGES = ["/", "/play/linreg", "/play/softmax", "/play/mlp", "/runs", "/exercises"]
EXPECTED = {
    "/": ["home.title", "model.linreg.title", "model.mlp.goal", "home.runs_link"],
    "/play/linreg": ["play.lr", "play.batch_size", "play.epochs", "play.train", "pitfall.broadcast_bug"],
    "/play/softmax": ["play.dataset", "dataset.digits", "pitfall.naive_softmax", "play.copy_link"],
    "/play/mlp": ["play.hidden_units", "play.hidden_layers", "play.activation", "model.mlp.title"],
    "/runs": ["runs.title", "nav.runs"],
    "/exercises": ["exercises.title", "nav.home"],
}


def get(server, path: str, lang: str) -> httpx.Response:
    """A fresh request without the client's cookies, so only ?lang= chooses."""
    return httpx.get(server.base + path, params={"lang": lang}, timeout=30)


def html(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&#34;").replace("'", "&#39;").replace("<", "&lt;")


def test_every_template_key_is_in_the_catalog_in_both_languages():
    catalog = messages()
    found = set()
    for template in (ROOT / "templates").rglob("*.html"):
        for key in KEY.findall(template.read_text(encoding="utf-8")):
            found.add(key)
            assert key in catalog, f"{template.name}: {key} is not in messages.yaml"
            assert set(catalog[key]) == set(LANGUAGES) and all(catalog[key].values()), key
    assert len(found) > 50


def test_every_javascript_key_is_sent_to_the_pages():
    used = set()
    for script in ("common", "live", "play", "runs", "race", "insights"):
        source = (ROOT / "static" / "js" / f"{script}.js").read_text(encoding="utf-8")
        used |= set(re.findall(r"""pg\.tr\(\s*["'](\w+)["']""", source))
        for pair in re.findall(r"""pg\.tr\(\s*\w+ \? ["'](\w+)["'] : ["'](\w+)["']""", source):
            used |= set(pair)
    keys = messages()

    def known(key):  # "status_" + status: a prefix that several keys share
        return f"js.{key}" in keys or (key.endswith("_") and any(k.startswith(f"js.{key}") for k in keys))

    missing = sorted(key for key in used if not known(key))
    assert not missing and len(used) > 20


@pytest.mark.parametrize("path", PAGES)
def test_each_page_speaks_both_languages(server, path):
    catalog = messages()
    for lang in LANGUAGES:
        page = get(server, path, lang)
        assert page.status_code == 200, page.text
        assert f'lang="{lang}"' in page.text
        for key in EXPECTED[path]:
            assert html(catalog[key][lang]) in page.text, (path, lang, key)
    english, chinese = get(server, path, "en").text, get(server, path, "zh").text
    assert re.search(r"[\u4e00-\u9fff]", chinese)
    for key in EXPECTED[path]:
        assert html(catalog[key]["zh"]) not in english or catalog[key]["zh"] == catalog[key]["en"]


@pytest.mark.parametrize("path", ["/play/linreg", "/runs"])
def test_the_pages_with_javascript_carry_its_strings(server, path):
    for lang in LANGUAGES:
        text = get(server, path, lang).text
        sent = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', text, re.S)
        assert sent, path
        strings = json.loads(sent.group(1))
        assert strings["js.result_acc"] == messages()["js.result_acc"][lang]
        assert all(key.startswith("js.") for key in strings)


def test_a_run_page_and_the_errors_in_both_languages(server):
    run_id = server.client.post("/api/runs", json={"model": "linreg", "epochs": 1}).json()["id"]
    catalog = messages()
    for lang in LANGUAGES:
        page = get(server, f"/runs/{run_id}", lang)
        assert page.status_code == 200
        for key in ("run.open_in_playground", "panel.loss_per_step", "panel.per_epoch", "panel.cancel"):
            assert html(catalog[key][lang]) in page.text, (lang, key)
        assert 'id="i18n"' in page.text
        missing = get(server, "/play/cnn", lang)
        assert missing.status_code == 404 and html(catalog["error.not_found"][lang]) in missing.text
        few = get(server, "/runs/compare", lang)
        assert few.status_code == 400 and html(catalog["error.cannot_compare"][lang]) in few.text
    assert "Final test accuracy" in catalog["js.result_acc"]["en"]
    assert "Final test accuracy" in catalog["result.acc"]["en"]


@pytest.mark.parametrize("status", ["done", "cancelled", "diverged", "failed", "interrupted"])
def test_the_streamed_status_carries_both_languages(status):
    """SSE fragments are encoded once for every viewer, so they hold both languages and CSS picks one."""
    fragment = render("fragments/status.html", event={"type": "finished", "status": status, "message": ""})
    for lang in LANGUAGES:
        assert f'class="l-{lang}">{messages()["status." + status][lang]}</span>' in fragment


def test_setting_problems_read_in_both_languages(server):
    """A bad value in a shared link is named in the visitor's language; the English rendering from the
    catalog is the trainer's own sentence, so the two cannot drift apart."""
    from app.training.specs import SpecError, parse_spec
    from app.web.wording import localized_problem

    class Visitor:
        def __init__(self, lang):
            self.query_params, self.cookies, self.headers = {"lang": lang}, {}, {}

    try:
        parse_spec({"model": "linreg", "lr": -1, "epochs": 500, "foo": 1})
    except SpecError as error:
        problems = error.problems
    assert [localized_problem(Visitor("en"), p) for p in problems] == list(problems)
    assert all(p.code for p in problems)
    zh = httpx.get(server.base + "/play/linreg", params={"lr": "-1", "epochs": "500", "lang": "zh"}).text
    assert "学习率:应在 0(不含) 到 1000 之间(现在是 &#39;-1&#39;)" in zh  # the field as the page labels it
    assert "迭代周期数:应在 1 到 200 之间" in zh


def test_a_rule_across_settings_and_a_raced_values_problem_read_in_both_languages(server):
    """naive_softmax with concise, and a raced value out of range (whose own problem is translated
    inside the race's sentence); the English from the catalog is the core's sentence."""
    from app.training.specs import CROSS_FIELD_RULES

    assert messages()["problem.naive_needs_scratch"]["en"] == CROSS_FIELD_RULES["naive_needs_scratch"]
    naive = {"impl": "concise", "naive_softmax": "on"}
    for lang, words in (("en", "only the scratch implementation"), ("zh", "只有从零实现(scratch)才手写")):
        page = httpx.get(server.base + "/play/softmax", params=naive | {"lang": lang}).text
        assert html(words) in page, lang
    form = {"lr": "0.03", "epochs": "1", "race_vary": "lr", "race_values": "0.1, -1"}
    for lang, words in (
        ("en", "lr = -1: lr: must be between 0 (exclusive) and 1000"),
        ("zh", "学习率 = -1:学习率:应在 0(不含) 到 1000 之间"),
    ):
        refused = server.client.post(f"/play/linreg/race?lang={lang}", data=form)
        assert refused.status_code == 422 and html(words) in refused.text, (lang, refused.text)
    repeated = server.client.post("/play/linreg/race?lang=zh", data=form | {"race_values": "0.1, 0.1"})
    assert repeated.status_code == 422 and html("比赛的取值:每个值只能出现一次") in repeated.text


def test_how_a_run_ended_reads_in_both_languages(data_dir):
    """The trainer's endings are catalog entries too: English identical to the trainer's sentence, and
    the streamed status line carries both languages with the run's own values."""
    from app.runs.endings import RUN_ENDINGS, ended
    from app.training.specs import parse_spec
    from app.training.trainer import ENDINGS, train

    assert not ENDINGS.keys() & RUN_ENDINGS.keys()  # one catalog namespace for both
    for code, sentence in {**ENDINGS, **RUN_ENDINGS}.items():
        assert messages()[f"js.finish_{code}"]["en"] == sentence, code
    lost = render("fragments/status.html", event=ended("failed", "worker_lost", seconds="3"))
    assert "已经 3 秒没有心跳" in lost and "no heartbeat for 3 s" in lost
    events = list(train(parse_spec({"model": "linreg", "lr": 30, "epochs": 1}), data_dir=data_dir))
    finished = events[-1].model_dump(mode="json")
    assert finished["status"] == "diverged" and finished["code"] == "diverged_lr"
    assert messages()["js.finish_diverged_lr"]["en"].format(**finished["params"]) == finished["message"]
    line = render("fragments/status.html", event=finished)
    assert f"学习率 {finished['params']['lr']} 对这个模型太大了" in line
    assert str(escape(finished["message"])) in line


def test_switching_language_keeps_the_playground_settings(server):
    page = httpx.get(
        server.base + "/play/mlp", params={"hidden_units": "64", "activation": "tanh", "lang": "en"}
    )
    assert 'href="?hidden_units=64&amp;activation=tanh&amp;lang=zh"' in page.text
