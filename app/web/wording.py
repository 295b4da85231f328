"""How runs and settings read in words, in the visitor's language: catalog lookups, summaries, compare
legends, how a run ended, how long ago it started, and the problems found in a setting."""

from datetime import UTC, datetime

from fastapi import Request

from app.runs.service import FINISHED, RunState

from .forms import PITFALLS
from .i18n import messages, tr, tr_coded  # noqa: F401  (tr_coded: read through here by exercises.py)

SHORT_NAMES = {
    "model": "",
    "dataset": "",
    "true_w": "",
    "impl": "",
    "lr": "lr",
    "batch_size": "batch",
    "epochs": "epochs",
    "hidden_units": "hidden",
    "hidden_layers": "layers",
    "activation": "",
    "init_std": "init std",
    "weight_decay": "weight decay",
    "seed": "seed",
    "skip_zero_grad": "skip_zero_grad",
    "broadcast_bug": "broadcast_bug",
    "naive_softmax": "naive_softmax",
}


def format_value(name: str, value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if name == "true_w":
        return "1 feature" if len(value) == 1 else f"{len(value)} features"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def setting(name: str, value) -> str:
    short = SHORT_NAMES.get(name, name)
    text = format_value(name, value)
    return f"{short} {text}".strip() if short else text


def summary(spec: dict) -> list[str]:
    """The settings a learner changes most, as short phrases."""
    parts = [spec.get("model", "?")]
    if spec.get("model") == "linreg":
        parts.append(setting("true_w", spec.get("true_w", [0, 0])))
    else:
        parts.append(str(spec.get("dataset", "")))
    if spec.get("model") == "mlp":
        layers = spec.get("hidden_layers", 1)
        parts.append(f"hidden {spec.get('hidden_units')}" + (f"x{layers}" if layers > 1 else ""))
        parts.append(str(spec.get("activation", "")))
    for name in ("lr", "batch_size", "epochs", "impl"):
        if name in spec:
            parts.append(setting(name, spec[name]))
    parts += [name for name in PITFALLS if spec.get(name)]
    return parts


def differing(specs: list[dict]) -> list[str]:
    """The settings that every spec has but not with the same value, in a reading order.

    A setting only some models have (hidden_units, true_w) is implied by the model, which differs then.
    """
    shared = set.intersection(*(set(spec) for spec in specs)) if specs else set()
    names = [n for n in SHORT_NAMES if n in shared] + sorted(shared - set(SHORT_NAMES))
    return [n for n in names if len({repr(spec[n]) for spec in specs}) > 1]


def legend_labels(runs: list[RunState]) -> list[str]:
    names = differing([run.spec for run in runs])
    labels = [", ".join(setting(n, run.spec[n]) for n in names if n in run.spec) for run in runs]
    if len(set(labels)) < len(labels) or not all(labels):
        pairs = zip(labels, runs, strict=True)
        labels = [f"{label} ({run.id})" if label else f"run {run.id}" for label, run in pairs]
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
        return f"{run.status}: {message}" if message else run.status
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
    if code == "range":
        for side, endless in (("low", "-inf"), ("high", "inf")):
            value = endless if params[side] is None else f"{params[side]:g}"
            params[side] = tr(request, "problem.open", value=value) if params[f"{side}_open"] else value
    return tr_coded(request, f"problem.{code}", str(problem), **params)
