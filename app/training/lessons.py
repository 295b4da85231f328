"""The lessons one click away on the playground pages: for each, the run to start and what it must show.

Pure data. A lesson's `spec` names the model and the dataset and only what differs from that pair's
defaults (defaults.py); everything else is the default. `expect` is the outcome the run shows, checked by
tests/training/test_lessons.py on the real thing. A lesson about a mistake also has a `contrast`: the same
run with the mistake undone (the changes to `spec`), and what that run shows instead, so the page can put
the two side by side. The words (title, what it shows) live in app/web/messages_lessons.yaml under
`lesson.<key>.title` and `lesson.<key>.shows`.

Figures measured here (seeds 0-2): the MLP 97-99% on spiral and softmax regression 51-61%; naive softmax
at lr 10 on digits NaN within the first epoch while the stable one reaches 96-97%; without zero_grad the
spiral MLP's loss runs away (10-52, from 1.1) in the first epochs; the broadcast bug leaves w near
[0.1, -0.3] (loss 6.6-9.0) where the right loss finds [2, -3.4]; three sigmoid layers 21-35% on digits
after 10 epochs where ReLU reaches 97%; lr 3 sends linear regression to infinity in a few steps.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Expect:
    """What a run shows when it ends. Each field that is set is a condition."""

    status: str = "done"  # how it ends: "done" or "diverged"
    code: str | None = None  # the ending's code (trainer.ENDINGS), e.g. "diverged_naive"
    test_acc_at_least: float | None = None  # last epoch's test accuracy
    test_acc_below: float | None = None
    w_error_above: float | None = None  # linear regression: largest |w_i - true_w_i| at the end
    w_error_below: float | None = None


@dataclass(frozen=True)
class Lesson:
    key: str
    spec: dict  # model, dataset, and what differs from the pair's defaults
    expect: Expect
    contrast: dict | None = None  # the changes that undo the mistake, for lessons about one
    contrast_expect: Expect | None = None

    @property
    def model(self) -> str:
        return self.spec["model"]

    def contrast_spec(self) -> dict | None:
        """The lesson's run with the mistake undone, or None."""
        return None if self.contrast is None else self.spec | self.contrast


LESSONS: dict[str, Lesson] = {
    lesson.key: lesson
    for lesson in [
        Lesson(
            key="mlp_bends_spiral",
            spec={"model": "mlp", "dataset": "spiral"},
            expect=Expect(test_acc_at_least=0.95),
        ),
        Lesson(
            key="softmax_cannot",
            spec={"model": "softmax", "dataset": "spiral"},
            expect=Expect(test_acc_below=0.70),
        ),
        Lesson(
            key="naive_softmax_overflows",
            spec={"model": "softmax", "dataset": "digits", "lr": 10.0, "naive_softmax": True},
            expect=Expect(status="diverged", code="diverged_naive"),
            contrast={"naive_softmax": False},
            contrast_expect=Expect(test_acc_at_least=0.90),
        ),
        Lesson(
            key="skip_zero_grad",
            spec={"model": "mlp", "dataset": "spiral", "skip_zero_grad": True},
            expect=Expect(status="diverged", code="diverged_zero_grad"),
            contrast={"skip_zero_grad": False},
            contrast_expect=Expect(test_acc_at_least=0.95),
        ),
        Lesson(
            key="broadcast_bug",
            spec={"model": "linreg", "broadcast_bug": True},
            expect=Expect(w_error_above=1.0),
            contrast={"broadcast_bug": False},
            contrast_expect=Expect(w_error_below=0.01),
        ),
        Lesson(
            key="sigmoid_vs_relu",
            spec={
                "model": "mlp",
                "dataset": "digits",
                "hidden_layers": 3,
                "activation": "sigmoid",
                "init_std": 0.1,
                "lr": 0.1,
                "epochs": 10,
            },
            expect=Expect(test_acc_below=0.60),
            contrast={"activation": "relu"},
            contrast_expect=Expect(test_acc_at_least=0.95),
        ),
        Lesson(
            key="lr_too_high",
            spec={"model": "linreg", "lr": 3.0},
            expect=Expect(status="diverged", code="diverged_lr"),
            contrast={"lr": 0.03},
            contrast_expect=Expect(w_error_below=0.01),
        ),
    ]
}


def lessons_for(model: str) -> list[Lesson]:
    """The lessons a model's playground page offers, in the order above."""
    return [lesson for lesson in LESSONS.values() if lesson.model == model]
