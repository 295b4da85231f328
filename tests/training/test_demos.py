"""Live tensor demos: the REFERENCE.md examples come out right, bad input is refused with a reason, and
every demo is bounded: its input before any tensor is made, its output by summarizing big tensors."""

import json

import pytest
import torch

from app.exercises.content import DEMOS as CONTENT_DEMOS
from app.training.demos import DEMOS, DemoInputError, DemoLimits, run_demo


def close(actual, expected, tolerance=1e-3):
    return len(actual) == len(expected) and all(
        abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)
    )


def test_every_demo_named_by_the_content_exists_and_its_defaults_are_json_ready():
    assert set(CONTENT_DEMOS) == set(DEMOS)
    for name in DEMOS:
        json.dumps(run_demo(name, {}), allow_nan=False)


def test_mm_is_the_matrix_product_and_mul_multiplies_element_wise():
    result = run_demo("mm_vs_mul", {"A": "1 2; 3 4", "B": [[1, 2], [3, 4]]})
    assert result["shape_A"] == result["shape_B"] == [2, 2]
    assert result["mm"]["result"] == [[7.0, 10.0], [15.0, 22.0]]
    assert result["mul"]["result"] == [[1.0, 4.0], [9.0, 16.0]]


def test_mm_shape_mismatch_is_reported_and_mul_broadcasts():
    result = run_demo("mm_vs_mul", {"A": "1,2\n3,4", "B": "10 20"})
    assert result["shape_B"] == [1, 2]
    assert result["mm"]["ok"] is False and "cannot be multiplied" in result["mm"]["error"]
    assert result["mul"]["result"] == [[10.0, 40.0], [30.0, 80.0]]
    mismatch = run_demo("mm_vs_mul", {"A": "1 2 3", "B": "1 2"})
    assert mismatch["mul"]["ok"] is False and "size" in mismatch["mul"]["error"]


def test_manual_seed_repeats_draws_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected_global = torch.rand(3)
    torch.manual_seed(123)
    result = run_demo("manual_seed", {"seed": "7", "n": 5})
    assert torch.equal(torch.rand(3), expected_global)
    first, second = result["seeded"]
    assert first == second and len(first) == 5 and result["seeded_equal"] is True
    assert result["unseeded"][0] != result["unseeded"][1] and result["unseeded_equal"] is False
    assert run_demo("manual_seed", {"seed": 7, "n": 5})["seeded"][0] == first


def test_grad_accumulates_without_zero_grad():
    result = run_demo("grad_accumulation", {"x": "1 2 3", "w": "2"})
    single = 2 * (1 + 4 + 9)
    assert result["single_grad"] == single
    assert result["without_zero_grad"] == [single, 2 * single, 3 * single]
    assert result["with_zero_grad"] == [single, single, single]


def test_view_shapes_and_the_broadcast_trap():
    result = run_demo("view_shapes", {"y": "1 2 3"})
    shapes = result["shapes"]
    assert shapes["y.view(-1)"] == [3]
    assert shapes["y.view(-1, 1)"] == shapes["y.view(3, 1)"] == shapes["y_hat"] == [3, 1]
    assert result["y_hat - y.view(-1)"]["shape"] == [3, 3]
    assert result["y_hat - y.view(-1)"]["values"][0] == [0.0, -1.0, -2.0]
    assert result["y_hat - y.view(-1)"]["loss"] > 0
    assert result["y_hat - y.view(-1, 1)"]["shape"] == [3, 1]
    assert result["y_hat - y.view(-1, 1)"]["loss"] == 0.0
    big = run_demo("view_shapes", {"y": list(range(100))})
    assert big["y_hat - y.view(-1)"]["shape"] == [100, 100] and "values" not in big["y_hat - y.view(-1)"]


def test_squared_loss_of_the_quiz_batch():
    result = run_demo("squared_loss", {"y_hat": "2.33 1.07 1.23", "y": "3.14, 0.98, 1.32"})
    assert result["mean"] == pytest.approx(0.11205, abs=1e-6)
    assert result["mean_without_half"] == pytest.approx(0.2241, abs=1e-5)
    assert close(result["per_example"], [0.32805, 0.00405, 0.00405], 1e-6)


def test_gather_and_accuracy():
    result = run_demo("gather_accuracy", {"y_hat": "0.1 0.3 0.6; 0.3 0.2 0.5", "y": "0 2"})
    assert result["gathered"] == [[0.1], [0.5]]
    assert result["argmax"] == [2, 2]
    assert result["correct"] == [False, True]
    assert result["accuracy"] == 0.5


def test_softmax_ignores_a_shift_but_not_a_scale():
    result = run_demo("softmax_shift", {"scores": "-2 -1 0", "c": 102, "k": 1})
    assert result["shift_max_difference"] < 1e-6
    hundred = run_demo("softmax_shift", {"scores": "100 101 102", "c": 0, "k": 1})["softmax(x)"]
    assert close(hundred, result["softmax(x)"], 1e-6)
    scaled = run_demo("softmax_shift", {"scores": "1 2 3", "c": "0", "k": "2"})
    assert close(scaled["softmax(x)"], [0.090, 0.245, 0.665])
    assert close(scaled["softmax(k * x)"], [0.016, 0.117, 0.867])


def test_naive_softmax_overflows_and_the_stable_one_does_not():
    result = run_demo("softmax_shift", {"scores": "1000 1010 1020", "c": 0, "k": 1})
    assert result["exp(x)"] == ["inf", "inf", "inf"]
    assert "nan" in result["naive"] and result["naive_finite"] is False
    assert close(result["stable"], [0.0, 0.0, 1.0], 1e-4)
    json.dumps(result, allow_nan=False)


def test_activation_derivatives_by_autograd_match_the_formulas():
    result = run_demo("activations", {"lo": "-5", "hi": 5, "points": 11})
    assert result["x"] == [-5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert result["relu_grad"] == [0.0] * 6 + [1.0] * 5
    assert result["sigmoid_grad"][5] == pytest.approx(0.25)
    assert result["tanh_grad"][5] == pytest.approx(1.0)
    assert result["check"]["max |sigmoid_grad - s * (1 - s)|"] < 1e-6
    assert result["check"]["max |tanh_grad - (1 - tanh ** 2)|"] < 1e-6


def test_the_activations_grid_hits_zero_exactly():
    """linspace(-8, 8, 81) in float64 misses 0 by -4.44e-16, which tanh kept and the page printed."""
    curves = run_demo("activations", {})["curves"]
    middle = curves["x"].index(0.0)
    assert middle == 40 and curves["tanh"][middle] == 0.0 and curves["relu"][middle] == 0.0
    assert not [v for curve in curves.values() for v in curve if v != 0 and abs(v) < 1e-12]


def test_backward_with_weights_is_the_gradient_of_the_weighted_sum():
    result = run_demo("backward_weights", {"x": "1 2 3", "w": [1, 0.5, -1]})
    assert result["y.backward(w)"] == result["sum(y * w).backward()"] == [2.0, 2.0, -6.0]
    assert result["max_difference"] == 0.0


def test_data_iter_batches():
    result = run_demo("data_iter", {"n": "20", "batch_size": 4})
    assert result["starts"] == [0, 4, 8, 12, 16]
    assert result["batches"] == 5 and result["last_batch_short"] is False
    short = run_demo("data_iter", {"n": 10, "batch_size": 4})
    assert short["sizes"] == [4, 4, 2] and short["last_batch_short"] is True


@pytest.mark.parametrize(
    ("name", "params", "words"),
    [
        ("squared_loss", {"y_hat": "1 a", "y": "1 2"}, "not a number"),
        ("squared_loss", {"y_hat": "nan 1", "y": "1 2"}, "not a number"),
        ("squared_loss", {"y_hat": [float("nan"), 1], "y": "1 2"}, "NaN"),
        ("squared_loss", {"y_hat": "1e999 1", "y": "1 2"}, "NaN and infinity"),
        ("squared_loss", {"y_hat": "", "y": "1"}, "empty"),
        ("squared_loss", {"y_hat": "1 2", "y": "1 2 3"}, "same number"),
        ("squared_loss", {"y_hat": "__import__('os')", "y": "1"}, "not a number"),
        ("squared_loss", {"y_hat": [True], "y": "1"}, "expected a number"),
        ("squared_loss", {"y_hat": [10**400], "y": "1"}, "NaN and infinity"),
        ("squared_loss", {"y_hat": [1e39], "y": "1"}, "float32"),
        ("squared_loss", {"y_hat": " ".join(["1"] * 5000), "y": "1"}, "4096"),
        ("mm_vs_mul", {"A": "1 2; 3", "B": "1"}, "ragged"),
        ("mm_vs_mul", {"A": [[1, 2], [3]], "B": "1"}, "ragged"),
        ("mm_vs_mul", {"A": [[1.0] * 100] * 50, "B": "1"}, "4096"),
        ("mm_vs_mul", {"A": " ; ", "B": "1"}, "empty"),
        ("mm_vs_mul", {"A": "1 " * 4000, "B": "1; " * 97}, "4097, and the limit is 4096 numbers in all"),
        ("mm_vs_mul", {"A": "1 " * 2048, "B": "1; " * 2048}, r"torch.mul\(A, B\) would hold 4194304"),
        ("mm_vs_mul", {"A": "1; " * 2048, "B": "1 " * 2048}, r"torch.mm\(A, B\) would hold 4194304"),
        ("view_shapes", {"y": list(range(1025))}, "1025 x 1025"),
        ("squared_loss", {"y_hat": "1" + " " * 20_000, "y": "1"}, "20001 characters"),
        ("softmax_shift", {"scores": "1", "c": "0" * 20_001}, "20001 characters"),
        ("grad_accumulation", {"calls": 11}, "1 to 10"),
        ("data_iter", {"n": 20, "batch_size": 0}, "1 to 10000"),
        ("data_iter", {"n": 20, "batch_size": "four"}, "whole number"),
        ("data_iter", {"n": 10001, "batch_size": 4}, "1 to 10000"),
        ("manual_seed", {"seed": 1, "n": 17}, "1 to 16"),
        ("gather_accuracy", {"y_hat": "0.1 0.9", "y": "2"}, "class index"),
        ("gather_accuracy", {"y_hat": "0.1 0.9", "y": "0 1"}, "one label per row"),
        ("activations", {"lo": -30, "hi": 5}, "-20"),
        ("activations", {"points": 402}, "2 to 401"),
        ("data_iter", {"n": 20, "size": 4}, "unknown parameter"),
        ("no_such_demo", {}, "unknown demo"),
    ],
)
def test_bad_input_is_refused_with_a_reason(name, params, words):
    with pytest.raises(DemoInputError, match=words):
        run_demo(name, params)


def test_the_probe_that_made_88_mb_of_html_is_refused_before_any_tensor_is_made():
    """1x4096 by 4096x1: 8192 numbers in, and torch.mul would broadcast them to 4096 x 4096."""
    with pytest.raises(DemoInputError) as refused:
        run_demo("mm_vs_mul", {"A": " ".join(["1"] * 4096), "B": "; ".join(["1"] * 4096)})
    assert refused.value.code == "too_many"
    assert refused.value.params == {"name": "B", "total": "8192", "limit": "4096"}
    with pytest.raises(DemoInputError) as too_big:  # within the numbers, beyond the result
        run_demo("mm_vs_mul", {"A": " ".join(["1"] * 1025), "B": "; ".join(["1"] * 1025)})
    assert too_big.value.code == "result_too_big"
    assert too_big.value.params["shape"] == "1025 x 1025" and too_big.value.params["limit"] == "1048576"


def test_the_limits_are_the_demos_own_setting():
    small = DemoLimits(numbers=4, result_numbers=9, text_chars=10, repeats=2)
    with pytest.raises(DemoInputError, match="the limit is 4 numbers"):
        run_demo("squared_loss", {"y_hat": "1 2 3", "y": "1 2 3"}, small)
    with pytest.raises(DemoInputError, match="the limit is 9 numbers per result"):
        run_demo("view_shapes", {"y": "1 2 3 4"}, small)
    with pytest.raises(DemoInputError, match="the limit is 10 characters"):
        run_demo("squared_loss", {"y_hat": "1          ", "y": "1"}, small)
    with pytest.raises(DemoInputError, match="1 to 2"):
        run_demo("grad_accumulation", {"calls": 3}, small)
    assert run_demo("view_shapes", {"y": "1 2 3"}, small)["y_hat - y.view(-1)"]["shape"] == [3, 3]


def test_big_tensors_come_back_as_shape_dtype_and_an_excerpt():
    outer = run_demo("mm_vs_mul", {"A": " ".join(["2"] * 1024), "B": "; ".join(["3"] * 1024)})
    assert outer["mm"]["result"] == [[6144.0]]
    summary = outer["mul"]["result"]
    assert summary["shape"] == [1024, 1024] and summary["dtype"] == "float32"
    assert summary["excerpt"].startswith("tensor([[6., 6., 6.,  ..., 6., 6., 6.],")
    assert (
        summary["excerpt"].count("...") == 7
    )  # 6 rows shown, and the rows between and "\n" not in summary["excerpt"]
    assert len(json.dumps(outer)) < 1000
    eight_by_eight = run_demo("mm_vs_mul", {"A": "; ".join(["1 " * 8] * 8), "B": "2"})["mul"]["result"]
    assert eight_by_eight == [[2.0] * 8] * 8  # 64 numbers: still shown whole
    batches = run_demo("data_iter", {"n": 10000, "batch_size": 1})
    assert batches["starts"]["dtype"] == "int64" and batches["starts"]["shape"] == [10000]
    assert "9999" in batches["starts"]["excerpt"] and batches["batches"] == 10000


def test_every_demo_answers_briefly_at_its_limits():
    """The worst inputs the limits allow stay small, whichever demo gets them."""
    biggest = {
        "mm_vs_mul": {"A": " ".join(["1.5"] * 1024), "B": "; ".join(["2"] * 1024)},
        "manual_seed": {"seed": 2**32 - 1, "n": 16},
        "grad_accumulation": {"x": [1.0] * 4095, "calls": 10},
        "view_shapes": {"y": list(range(1024))},
        "squared_loss": {"y_hat": [1.0] * 2048, "y": [2.0] * 2048},
        "gather_accuracy": {"y_hat": [[0.5, 0.5]] * 1365, "y": [1] * 1365},
        "softmax_shift": {"scores": [1.0] * 4094, "c": 1e6, "k": 1000},
        "activations": {"lo": -20, "hi": 20, "points": 401},
        "backward_weights": {"x": [1.0] * 2048, "w": [2.0] * 2048},
        "data_iter": {"n": 10000, "batch_size": 1},
    }
    assert set(biggest) == set(DEMOS)
    for name, params in biggest.items():
        answer = json.dumps(run_demo(name, params), allow_nan=False)
        limit = 24_000 if name == "activations" else 4_000  # the chart's 7 curves of 401 points, twice
        assert len(answer) < limit, (name, len(answer))
