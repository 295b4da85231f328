"""The exercise pages in both languages, and answers checked by the server."""

import httpx

from app.exercises.content import load_sections


def test_every_section_renders_every_item_in_both_languages(server):
    for lang in ("en", "zh"):
        index = server.client.get("/exercises", params={"lang": lang})
        assert index.status_code == 200 and f'lang="{lang}"' in index.text
        for section in load_sections():
            page = server.client.get(f"/exercises/{section.id}", params={"lang": lang}).text
            assert section.title.model_dump()[lang] in page
            for item in section.items:
                assert f'id="item-{item.id}"' in page
                question = item.question.model_dump()[lang]
                assert question.replace('"', "&#34;").replace("'", "&#39;").split("<")[0][:20] in page


def test_the_language_follows_accept_language_and_a_remembered_choice(server):
    chinese = server.client.get("/exercises", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert 'lang="zh"' in chinese.text
    chosen = server.client.get("/exercises", params={"lang": "en"}, headers={"Accept-Language": "zh-CN"})
    assert chosen.cookies.get("lang") == "en"


def test_right_and_wrong_answers(server):
    section = load_sections()[0]
    item = next(i for i in section.items if i.kind == "choice")
    wrong = next(c.id for c in item.choices if c.id != item.answer)
    right = server.client.post(f"/exercises/check/{item.id}", data={"answer": item.answer})
    assert right.status_code == 200 and 'data-verdict="right"' in right.text
    assert item.explanation.en.split()[0] in right.text
    missed = server.client.post(f"/exercises/check/{item.id}", data={"answer": wrong})
    assert 'data-verdict="wrong"' in missed.text
    assert "<details" in missed.text and item.explanation.en.split()[0] in missed.text  # folded away
    assert server.client.post(f"/exercises/check/{item.id}", data={"answer": ""}).status_code == 422
    assert server.client.post("/exercises/check/no-such-item", data={"answer": "a"}).status_code == 404
    assert server.client.get("/exercises/cnn").status_code == 404


def test_live_demos_answer_with_torch_and_refuse_bad_input(server):
    loss = server.client.post(
        "/exercises/demo/squared_loss", data={"y_hat": "2.33 1.07 1.23", "y": "3.14 0.98 1.32"}
    )
    assert loss.status_code == 200 and "0.11205" in loss.text
    starts = server.client.post("/exercises/demo/data_iter", data={"n": "20", "batch_size": "4"}).text
    assert "[0, 4, 8, 12, 16]" in starts or "[0,4,8,12,16]" in starts
    for bad in (
        {"y_hat": "1 a", "y": "1 2"},
        {"y_hat": "1 2; 3", "y": "1 2"},
        {"y_hat": " ".join(["1"] * 5000), "y": "1"},
    ):
        refused = server.client.post("/exercises/demo/squared_loss", data=bad)
        assert refused.status_code == 422 and "data-demo-problem" in refused.text
    assert server.client.post("/exercises/demo/eval", data={}).status_code == 404
    curves = server.client.post(
        "/exercises/demo/activations", data={"lo": "-3", "hi": "3", "points": "7"}
    ).text
    assert "sigmoid_grad" in curves and "data-activations" in curves


def test_the_web_process_never_loads_torch(server):
    server.client.post(
        "/exercises/demo/data_iter", data={"n": "5", "batch_size": "2"}
    )  # demos ran, elsewhere
    server.client.post("/api/runs", json={"model": "linreg", "epochs": 1})
    with open(f"/proc/{server.process.pid}/maps") as maps:
        assert "libtorch" not in maps.read()


def test_navigation_speaks_the_chosen_language_on_every_page(server):
    for path in ("/", "/play/mlp", "/runs", "/exercises"):
        chinese = server.client.get(path, params={"lang": "zh"})
        assert chinese.status_code == 200 and 'lang="zh"' in chinese.text and "多层感知机" in chinese.text
    fresh = httpx.get(server.base + "/play/mlp", headers={"Accept-Language": "en-GB"})  # no cookie yet
    assert "Linear regression" in fresh.text
    remembered = server.client.get("/play/mlp", headers={"Accept-Language": "en-GB"})  # the cookie wins
    assert 'lang="zh"' in remembered.text


def test_items_link_to_their_ready_made_races(server):
    page = server.client.get("/exercises/mlp").text
    assert "race_vary=activation&amp;race_values=sigmoid%2Crelu#race" in page
    playground = server.client.get("/play/mlp?hidden_layers=3&race_vary=activation&race_values=sigmoid,relu")
    assert 'value="sigmoid,relu"' in playground.text


def test_demo_input_problems_read_in_both_languages(server):
    """Each problem a demo can name is in the catalog, its English identical to the demo's sentence."""
    from app.training.demos import INPUT_PROBLEMS
    from app.web.i18n import messages

    for code, sentence in INPUT_PROBLEMS.items():
        assert messages()[f"demo_problem.{code}"]["en"] == sentence, code
    ragged = {"y_hat": "1 2; 3", "y": "1 2"}
    zh = server.client.post("/exercises/demo/gather_accuracy", data=ragged, params={"lang": "zh"})
    assert zh.status_code == 422 and "y_hat:各行长短不一;第 1 行有 2 个数,第 2 行却有 1 个" in zh.text
    en = server.client.post("/exercises/demo/gather_accuracy", data=ragged, params={"lang": "en"})
    assert "y_hat: ragged rows; row 1 has 2 numbers but row 2 has 1." in en.text
