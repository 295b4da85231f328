"""Malformed input is a 4xx that names the field, in a small body that is always valid JSON.

None of these requests gets as far as training, so the app runs in-process without its workers."""

import json

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

BIG = 100_000  # items or characters of input that must never come back whole (bodies stay under 1 MB)
MLP = {"model": "mlp"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("strict"), workers=1))
    return TestClient(app)  # no `with`: the lifespan (workers, store) never starts


def refusal(response, status: int = 422) -> str:
    """The response's problems as one string, after checking the status and that the body is small,
    plain JSON (JSON has no NaN)."""
    assert response.status_code == status, response.text[:500]
    assert len(response.content) < 2000, response.content[:500]
    body = json.loads(response.text, parse_constant=lambda name: pytest.fail(f"{name} in the body"))
    return json.dumps(body["detail"])


def post_json(client, url: str, text: str):
    return client.post(url, content=text, headers={"content-type": "application/json"})


@pytest.mark.parametrize("url", ["/api/runs", "/api/races"])
def test_a_body_of_nan_is_refused_as_a_body(client, url):
    assert "body" in refusal(post_json(client, url, "NaN"))


@pytest.mark.parametrize("model", [["mlp"], {}, None, 3])
def test_a_model_that_is_not_a_name_is_refused_for_runs_and_race_bases(client, model):
    assert "model: must be one of" in refusal(client.post("/api/runs", json={"model": model}))
    race = {"base": {"model": model}, "vary": "lr", "values": [0.1, 1]}
    assert "model: must be one of" in refusal(client.post("/api/races", json=race))


def test_a_race_base_that_is_not_an_object_is_refused(client):
    assert "base" in refusal(post_json(client, "/api/races", '{"base": NaN, "vary": "lr", "values": [1, 2]}'))


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ("[true, 0.1]", "values.0"),
        ("[0.1, NaN]", "values.1"),
        ("[Infinity, 0.1]", "values.0"),
        ("[0.1, -1e999]", "values.1"),
        ('["0.1", 1]', "lr = 0.1: lr"),  # a numeric string is a string in JSON
        ("[[0.1], 1]", "values.0"),
    ],
)
def test_race_values_are_numbers_as_json_writes_them(client, values, named):
    body = f'{{"base": {{"model": "mlp"}}, "vary": "lr", "values": {values}}}'
    assert named in refusal(post_json(client, "/api/races", body))


def test_whole_numbers_stay_whole_in_a_json_race(client):
    race = {"base": {"model": "linreg"}, "vary": "batch_size", "values": [10, 50.0]}
    assert "batch_size = 50.0: batch_size" in refusal(client.post("/api/races", json=race))


def test_json_numbers_inside_a_race_base_are_strict(client):
    race = {"base": {"model": "mlp", "epochs": "2", "lr": True}, "vary": "hidden_units", "values": [8, 16]}
    problems = refusal(client.post("/api/races", json=race))
    assert "epochs:" in problems and "lr:" in problems and "hidden_units =" not in problems  # named once


def test_an_unknown_race_field_is_refused(client):
    race = {"base": MLP, "vary": "lr", "values": [0.1, 1], "colour": "red"}
    assert "colour" in refusal(client.post("/api/races", json=race))


@pytest.mark.parametrize(
    ("vary", "values"), [("lr", [1, 1.0]), ("lr", [0.1, 1, 0.10]), ("activation", ["relu", "relu"])]
)
def test_race_values_that_are_the_same_setting_are_refused(client, vary, values):
    race = {"base": MLP, "vary": vary, "values": values}
    assert "each value once" in refusal(client.post("/api/races", json=race))


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinities_are_refused_in_a_run(client, number):
    problems = refusal(post_json(client, "/api/runs", f'{{"model": "linreg", "true_w": [1, {number}]}}'))
    assert "true_w.1: must be a finite number" in problems


@pytest.mark.parametrize("lr", [True, "0.1"])
def test_numbers_are_numbers_in_a_run(client, lr):
    assert "lr:" in refusal(client.post("/api/runs", json={"model": "mlp", "lr": lr}))


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/runs", {"model": "linreg", "true_w": "w" * BIG}),
        ("/api/runs", {"model": "linreg", "true_w": [1.5] * BIG}),
        ("/api/runs", {"model": "m" * BIG}),
        ("/api/races", {"base": "b" * BIG, "vary": "lr", "values": [0.1, 1]}),
        ("/api/races", {"base": MLP, "vary": "lr", "values": [0.1] * BIG}),
        ("/api/races", {"base": MLP, "vary": "lr", "values": ["v" * BIG, 1]}),
        ("/api/races", {"base": MLP, "vary": "v" * BIG, "values": [0.1, 1]}),
    ],
)
def test_a_refusal_quotes_only_an_excerpt_of_big_input(client, url, body):
    problems = refusal(client.post(url, json=body))  # checks the size
    assert "..." in problems


def test_a_broken_json_body_is_named(client):
    assert "body: not valid JSON" in refusal(post_json(client, "/api/runs", '{"model": '))


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e999"])
def test_the_playground_form_refuses_nan_and_infinities_in_both_languages(client, text):
    form = {"lr": text, "epochs": "1"}
    english = client.post("/play/linreg/runs?lang=en", data=form)
    assert english.status_code == 422 and "lr: must be a finite number, not NaN or infinity" in english.text
    chinese = client.post("/play/linreg/runs?lang=zh", data=form)
    assert chinese.status_code == 422 and "学习率:必须是有限的数" in chinese.text


def test_the_race_form_refuses_nan_as_a_value(client):
    form = {"lr": "0.03", "epochs": "1", "race_vary": "lr", "race_values": "0.1, nan"}
    refused = client.post("/play/linreg/race?lang=en", data=form)
    assert refused.status_code == 422 and "lr = nan: lr: must be a finite number" in refused.text


def test_the_race_form_takes_its_values_as_strings_and_compares_them_as_numbers(client):
    form = {"lr": "0.03", "epochs": "1", "race_vary": "lr", "race_values": "0.1, 0.10"}
    refused = client.post("/play/linreg/race?lang=en", data=form)
    assert refused.status_code == 422 and "each value once" in refused.text


def test_the_catalogs_english_for_a_nan_is_the_cores():
    from app.training.specs import NOT_FINITE
    from app.web.i18n import messages

    assert messages()["problem.not_finite"]["en"] == NOT_FINITE
