"""A demo's result as the page shows it: 4 significant digits, float noise as 0, labels, folding."""

from app.exercises.display import FOLD_OVER, WORD_LABELS, number_text, rows, tidy, value_text
from app.web.i18n import messages


def test_floats_are_rounded_to_four_significant_digits_and_noise_is_zero():
    assert tidy(-4.440892e-16) == 0.0 and number_text(-4.440892e-16) == "0"
    assert tidy([0.3280501, 20.08554, 4.768371e-07]) == [0.3281, 20.09, 4.768e-07]
    assert tidy({"a": [1.23456, True, "inf", 3]}) == {"a": [1.235, True, "inf", 3]}
    assert number_text(14.0) == "14" and number_text(65546000.0) == "65546000"
    assert number_text(0.0040500) == "0.00405" and number_text(4.768371e-07) == "4.768e-07"
    assert number_text(-0.0) == "0" and number_text(12345.67) == "12350" and number_text(1e20) == "1e+20"


def test_values_read_as_python_prints_them():
    assert value_text([[1.0, 2.5], [True, False]]) == "[[1, 2.5], [True, False]]"
    assert value_text(["inf", "nan"]) == "[inf, nan]"
    assert value_text("y = x ** 2; x.grad = 2 * x * w") == "y = x ** 2; x.grad = 2 * x * w"


def test_rows_label_words_from_the_catalog_and_code_as_code():
    table = rows({"mm": {"ok": True, "shape": [2, 2], "result": [[7.0, 10.0], [15.0, 22.0]]}, "y_hat": [1.0]})
    mm, y_hat = table
    assert mm.code_label == "torch.mm(A, B)" and [row.label_key for row in mm.rows] == [
        "demo_row.ok",
        "demo_row.shape",
        "demo_row.result",
    ]
    assert y_hat.code_label == "y_hat" and y_hat.text == "[1]"
    for key in WORD_LABELS:
        assert f"demo_row.{key}" in messages(), key


def test_long_values_fold_and_big_tensors_arrive_summarized():
    long, short = rows({"long": [0.5] * (FOLD_OVER + 1), "short": [0.5] * FOLD_OVER})
    assert long.folded and long.numbers == FOLD_OVER + 1 and not short.folded
    (summary,) = rows({"mm": {"shape": [80, 80], "dtype": "float32", "excerpt": "tensor([[1., ...]])"}})
    assert summary.summary == {"shape": "80 x 80", "dtype": "float32", "excerpt": "tensor([[1., ...]])"}
