"""The exercise files are complete, bilingual, consistent with the playground, and cover the course."""

import subprocess
import sys

import pytest
import yaml
from pydantic import ValidationError

from app.exercises.content import (
    CONTENT_DIR,
    DEMOS,
    Item,
    Section,
    check_answer,
    find_item,
    load_sections,
)
from app.training.specs import SPEC_CLASSES, parse_spec

# One id per topic of REFERENCE.md section 2 (and the seed notes): deleting one fails this test.
REQUIRED_ITEMS = {
    "linreg": [
        "mm-vs-mul",
        "manual-seed",
        "zero-grad",
        "data-iter-starts",
        "data-iter-last-batch",
        "last-batch-step",
        "view-flat-shape",
        "view-column-shape",
        "quiz1-param-shapes",
        "quiz2-broadcast-loss",
        "quiz2-broadcast-effect",
        "why-reshape-y",
        "quiz3-batch-loss",
        "float64-trap",
        "analytic-vs-numerical",
        "minibatch-sgd",
        "linreg-lr-small",
        "linreg-lr-large",
    ],
    "softmax": [
        "softmax-weight-shape",
        "softmax-bias-shape",
        "gather-picks",
        "accuracy-example",
        "quiz4-softmax-shift",
        "naive-softmax-overflow",
        "log-zero-cross-entropy",
        "quiz5-train-below-test",
        "cross-entropy-true-class",
        "cross-entropy-value",
        "why-softmax-normalises",
        "myth-weight-scaling",
        "scaled-softmax-top",
        "regression-vs-classification",
        "port-lr-pitfall",
        "untrained-accuracy",
        "softmax-lr-compare",
    ],
    "mlp": [
        "quiz6-activations",
        "tanh-from-sigmoid",
        "quiz7-weight-count",
        "quiz7-with-biases",
        "book-mlp-parameters",
        "backward-with-weights",
        "backward-value",
        "relu-default",
        "saturation",
        "sigmoid-max-slope",
        "sigmoid-derivative",
        "tanh-derivative",
        "linear-layers-collapse",
        "spiral-mlp-vs-softmax",
        "hidden-units-exercise",
        "add-hidden-layer-exercise",
        "other-activations-exercise",
    ],
}

# Presets the course's pitfalls need, by item: the playground switch that shows each effect.
REQUIRED_PRESETS = {
    "zero-grad": {"skip_zero_grad": True},
    "quiz2-broadcast-loss": {"broadcast_bug": True},
    "naive-softmax-overflow": {"naive_softmax": True, "dataset": "digits", "batch_size": 32, "lr": 10},
    "spiral-mlp-vs-softmax": {"model": "mlp", "dataset": "spiral"},
    "linear-layers-collapse": {"model": "softmax", "dataset": "spiral"},
}

SECTIONS = load_sections()
ITEMS = [(section, it) for section in SECTIONS for it in section.items]


def test_three_sections_in_course_order():
    assert [section.id for section in SECTIONS] == ["linreg", "softmax", "mlp"]
    assert load_sections() is not SECTIONS and load_sections() == SECTIONS  # cached, a fresh list


def test_item_ids_are_unique_and_findable():
    ids = [it.id for _, it in ITEMS]
    assert len(ids) == len(set(ids))
    for section, it in ITEMS:
        assert find_item(it.id) == (section, it)
    with pytest.raises(KeyError):
        find_item("no-such-item")


@pytest.mark.parametrize("section_id", REQUIRED_ITEMS)
def test_every_reference_topic_is_covered(section_id):
    section = next(s for s in SECTIONS if s.id == section_id)
    present = {it.id for it in section.items}
    missing = [item_id for item_id in REQUIRED_ITEMS[section_id] if item_id not in present]
    assert not missing, missing


def test_required_presets():
    for item_id, expected in REQUIRED_PRESETS.items():
        preset = find_item(item_id)[1].preset
        assert preset is not None and expected.items() <= preset.items(), item_id


def texts_of(section, it):
    yield f"{section.id}.title", section.title
    yield f"{section.id}.intro", section.intro
    yield f"{it.id}.question", it.question
    yield f"{it.id}.explanation", it.explanation
    for choice in it.choices:
        yield f"{it.id}.choice.{choice.id}", choice.text


def has_cjk(text):
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.parametrize(("section", "it"), ITEMS, ids=[it.id for _, it in ITEMS])
def test_item_is_bilingual(section, it):
    for where, text in texts_of(section, it):
        assert text.zh.strip() and text.en.strip(), where
    for where, text in (("question", it.question), ("explanation", it.explanation)):
        assert has_cjk(text.zh), f"{it.id}.{where}.zh holds no Chinese"
        assert not has_cjk(text.en), f"{it.id}.{where}.en holds Chinese"
        assert text.zh != text.en


@pytest.mark.parametrize(("section", "it"), ITEMS, ids=[it.id for _, it in ITEMS])
def test_item_shape(section, it):
    if it.kind in ("choice", "text-choice"):
        ids = [choice.id for choice in it.choices]
        assert len(ids) >= 2 and len(set(ids)) == len(ids) and it.answer in ids
        assert len({choice.text.en for choice in it.choices}) == len(ids)
    elif it.kind == "number":
        assert isinstance(it.answer, float) and not it.choices
    else:
        assert all(isinstance(n, int) and n > 0 for n in it.answer) and not it.choices
    assert it.demo is None or it.demo in DEMOS
    assert check_answer(it, it.answer if isinstance(it.answer, str) else str(it.answer).strip("[]"))


def preset_spec_input(section, preset):
    data = dict(preset)
    data.setdefault("model", section.id)
    if data.get("true_w") == "line":
        data["true_w"] = [2.0]
    return data


@pytest.mark.parametrize(
    ("section", "it"), [(s, i) for s, i in ITEMS if i.preset], ids=[i.id for _, i in ITEMS if i.preset]
)
def test_presets_parse_as_playground_specs(section, it):
    data = preset_spec_input(section, it.preset)
    spec = parse_spec({**data, "model": data["model"]})
    fields = SPEC_CLASSES[spec.model].model_fields
    assert set(it.preset) <= set(fields) | {"model"}


def test_line_dataset_preset_convention():
    section = SECTIONS[0]
    spec = parse_spec(preset_spec_input(section, {"true_w": "line", "broadcast_bug": True}))
    assert spec.true_w == [2.0]


def test_every_demo_an_item_may_name_has_a_form_on_the_page():
    from app.web.exercises import DEMO_FIELDS

    assert set(DEMOS) == set(DEMO_FIELDS)


def test_files_are_plain_yaml_and_match_the_models():
    for section in SECTIONS:
        raw = yaml.safe_load((CONTENT_DIR / f"{section.id}.yaml").read_text(encoding="utf-8"))
        assert Section.model_validate(raw) == section


def base_item(**change):
    data = {
        "id": "x-item",
        "kind": "choice",
        "question": {"zh": "问题", "en": "question"},
        "choices": [
            {"id": "a", "text": {"zh": "甲", "en": "A"}},
            {"id": "b", "text": {"zh": "乙", "en": "B"}},
        ],
        "answer": "a",
        "explanation": {"zh": "解释", "en": "why"},
    }
    data.update(change)
    return data


@pytest.mark.parametrize(
    "change",
    [
        {"answer": "c"},
        {"choices": [{"id": "a", "text": {"zh": "甲", "en": "A"}}]},
        {"question": {"zh": "问题", "en": " "}},
        {"question": {"zh": "问题"}},
        {"kind": "number", "choices": [], "answer": "x"},
        {"kind": "number", "choices": [], "answer": True},
        {"kind": "number", "choices": [], "answer": float("nan")},
        {"kind": "shape", "choices": [], "answer": [4, 0]},
        {"kind": "shape", "choices": [], "answer": "4x3"},
        {"kind": "number", "answer": 1.0},
        {"demo": "not_a_demo"},
        {"id": "Bad Id"},
        {"surprise": 1},
    ],
)
def test_the_models_refuse_broken_items(change):
    with pytest.raises(ValidationError):
        Item.model_validate(base_item(**change))


def test_content_module_does_not_import_torch():
    code = "import sys, app.exercises.content as c; c.load_sections(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("section", "it"), [(s, i) for s, i in ITEMS if i.race], ids=[i.id for _, i in ITEMS if i.race]
)
def test_race_presets_start_valid_races(section, it):
    """Each ready-made race is one the race API accepts: a raceable control, valid values, same seed."""
    from app.web.race import RACE_CONTROLS, RaceRequest, plan

    assert it.race.vary in RACE_CONTROLS
    specs = plan(
        RaceRequest(base=preset_spec_input(section, it.preset), vary=it.race.vary, values=it.race.values)
    )
    assert len({spec["seed"] for spec in specs}) == 1 and len(specs) == len(it.race.values)
