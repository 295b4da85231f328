"""How runs and settings read in words, in the visitor's language: summaries, compare legends, how a run
ended, how long ago it started, and the problems found in a setting (catalog lookups are in i18n.py)."""

from datetime import UTC, datetime

from fastapi import Request

from app.runs.service import FINISHED, RunState

from .forms import PITFALLS, plain_number
from .i18n import language, messages, tr, tr_coded

# The order settings are named in, in legends and summaries; each reads as the catalog's setting.<name>.
SETTING_ORDER = (
    "model", "dataset", "true_w", "impl", "lr", "batch_size", "epochs", "hidden_units", "hidden_layers",
    "activation", "init_std", "weight_decay", "seed", "n_examples", "noise", "test_share", "data_seed",
    "true_b", "noise_std", "skip_zero_grad", "broadcast_bug", "naive_softmax", "landscape_fix_b",
    "step_events_per_epoch", "insights", "neurons",
)  # fmt: skip
SELF_NAMED = {"model", "dataset", "true_w", "impl"}  # their value alone says what they are


def format_value(request: Request, name: str, value) -> str:
    """A setting's value in words: on/off, '2 features', a model's title, a number as written."""
    if isinstance(value, bool):
        return tr(request, "value.on" if value else "value.off")
    if name == "true_w":
        return tr(request, "value.features", n=len(value))
    if name == "model" and f"model.{value}.title" in messages():
        return tr(request, f"model.{value}.title")
    if name == "impl" and value in ("scratch", "concise"):
        return tr(request, f"play.{value}")
    return plain_number(value)


def setting_name(request: Request, name: str) -> str:
    return tr(request, f"setting.{name}") if f"setting.{name}" in messages() else name


def setting(request: Request, name: str, value) -> str:
    """'lr 0.1', 'activation sigmoid', 'concise': one setting as a short phrase."""
    text = format_value(request, name, value)
    return (
        text
        if name in SELF_NAMED
        else tr(request, "setting.phrase", name=setting_name(request, name), value=text)
    )


def summary(request: Request, spec: dict) -> list[str]:
    """The settings a learner changes most, as short phrases; the model's title first."""
    parts = [format_value(request, "model", spec.get("model", "?"))]
    if spec.get("model") == "linreg":
        parts.append(setting(request, "true_w", spec.get("true_w", [0, 0])))
    else:
        parts.append(str(spec.get("dataset", "")))
    if spec.get("model") == "mlp":
        layers = spec.get("hidden_layers", 1)
        units = f"{spec.get('hidden_units')}" + (f"x{layers}" if layers > 1 else "")
        parts.append(setting(request, "hidden_units", units))
        parts.append(setting(request, "activation", spec.get("activation", "")))
    for name in ("lr", "batch_size", "epochs", "impl"):
        if name in spec:
            parts.append(setting(request, name, spec[name]))
    parts += [name for name in PITFALLS if spec.get(name)]
    return parts


def differing(specs: list[dict]) -> list[str]:
    """The settings that every spec has but not with the same value, in a reading order.

    A setting only some models have (hidden_units, true_w) is implied by the model, which differs then.
    """
    shared = set.intersection(*(set(spec) for spec in specs)) if specs else set()
    names = [n for n in SETTING_ORDER if n in shared] + sorted(shared - set(SETTING_ORDER))
    return [n for n in names if len({repr(spec[n]) for spec in specs}) > 1]


def legend_labels(request: Request, runs: list[RunState]) -> list[str]:
    """Each run named by exactly the settings in which the runs differ; the run's id where that is
    not enough to tell them apart (same settings, or only the model's own settings differ)."""
    names = differing([run.spec for run in runs])
    labels = [", ".join(setting(request, n, run.spec[n]) for n in names if n in run.spec) for run in runs]
    if len(set(labels)) < len(labels) or not all(labels):
        pairs = zip(labels, runs, strict=True)
        labels = [
            f"{label} ({run.id})" if label else tr(request, "legend.run", id=run.id) for label, run in pairs
        ]
    return labels


def ago(request: Request, moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return tr(request, f"ago.{unit}{'s' if count > 1 else ''}", n=count)
    return tr(request, "ago.just_now")


def final_result(request: Request, run: RunState) -> str:
    """One line on how a finished run ended (the JavaScript writes the same line when it ends live)."""
    if run.status not in FINISHED:
        return ""
    last = run.epochs[-1] if run.epochs else None
    if run.status != "done" or last is None:
        finished = run.ending or {}
        message = finished.get("message", "")
        if finished.get("code"):  # the trainer's sentence, in the visitor's language
            message = tr_coded(request, f"js.finish_{finished['code']}", message, **finished["params"])
        status = tr(request, f"status.{run.status}")
        return tr(request, "result.ended", status=status, message=message) if message else status
    if last.get("test_acc") is not None:
        text = tr(request, "result.acc", acc=f"{last['test_acc']:.1%}")
        if last.get("train_acc") is not None:
            text += tr(request, "result.train_acc", acc=f"{last['train_acc']:.1%}")
    else:
        text = tr(request, "result.loss", test=f"{last['test_loss']:.3g}", train=f"{last['train_loss']:.3g}")
    return tr(request, "result.after", text=text, epochs=last["epoch"])


def localized(request: Request, problems: list[str]) -> list[str]:
    """Each problem with a known kind (specs.Problem.code) in the visitor's language; others as written."""
    return [localized_problem(request, problem) for problem in problems]


def localized_problem(request: Request, problem: str) -> str:
    code, params = getattr(problem, "code", ""), dict(getattr(problem, "params", {}))
    if code == "race_value":  # one raced value's own problem, itself translated
        params["problem"] = localized_problem(request, params.pop("inner"))
        params["name"] = field_label(request, params["name"])
    if code == "range":
        for side, endless in (("low", "-inf"), ("high", "inf")):
            value = endless if params[side] is None else plain_number(params[side])
            params[side] = tr(request, "problem.open", value=value) if params[f"{side}_open"] else value
    if "field" in params:
        params["field"] = field_label(request, params["field"])
    return tr_coded(request, f"problem.{code}", str(problem), **params)


def field_label(request: Request, field: str) -> str:
    """A setting as the Chinese page labels it (学习率); in English the field's own name (lr), which is
    also what the API and the CLI call it."""
    if language(request) == "zh" and f"play.{field}" in messages():
        return tr(request, f"play.{field}")
    return field


def number_problems(request: Request, name: str, control: dict) -> dict[str, str]:
    """What the page says, before sending, about a bad number in a field: the same sentences the server
    answers with (problem.range, .whole_number or .number, .not_finite), `{got}` left for the page."""
    field = field_label(request, name)
    kind = "whole_number" if control.get("step") == "1" else "number"
    texts = {"number": tr(request, f"problem.{kind}", field=field, got="{got}")}
    texts["finite"] = tr(request, "problem.not_finite", field=field, got="{got}")
    if "min" in control and "max" in control:
        low = control["min_text"]
        low = tr(request, "problem.open", value=low) if control.get("low_open") else low
        texts["range"] = tr(
            request, "problem.range", field=field, low=low, high=control["max_text"], got="{got}"
        )
    return texts
