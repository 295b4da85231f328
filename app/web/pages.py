"""HTML pages and the fragments htmx swaps in: home, the playgrounds, a run's live panel, the runs list.

Every route renders a template; the browser's JavaScript only draws charts and pictures. The settings of
a playground live in its URL query, so a copied link restores them.
"""

import asyncio
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import escape
from pydantic import BaseModel

from app.runs.service import FINISHED, Refused, RunService, RunState, events_of
from app.training.specs import SPEC_CLASSES, Activation, ClassificationDataset, SpecError, parse_spec

from .i18n import language, messages
from .identity import is_admin, may_change, visitor_of
from .refusals import refusal
from .templating import templates

router = APIRouter(include_in_schema=False)

COMPARE_MIN, COMPARE_MAX = 2, 8
COMPARE_POINTS = 2000  # loss points per run on the compare chart, at most
RUNS_LISTED = 100
LOG_LR_MIN, LOG_LR_MAX = -4, 1  # the learning-rate slider: 1e-4 .. 10


@dataclass(frozen=True)
class Model:
    key: str
    title: str
    goal: str
    controls: tuple[str, ...]


COMMON = ("lr", "batch_size", "epochs", "impl", "seed", "skip_zero_grad")
MODELS = {
    "linreg": Model(
        "linreg",
        "Linear regression",
        "Watch minibatch SGD recover the weights that made the data: the learned w and b walk toward "
        "the true ones. Then see what a learning rate that is too large, or one broadcasting slip, does.",
        (*COMMON, "true_w", "broadcast_bug", "landscape_fix_b"),
    ),
    "softmax": Model(
        "softmax",
        "Softmax regression",
        "Turn scores into class probabilities and train them with cross-entropy. On the 2-D sets the "
        "boundaries are straight lines; on images each class's weights become a picture you can read.",
        (*COMMON, "dataset", "init_std", "naive_softmax"),
    ),
    "mlp": Model(
        "mlp",
        "Multilayer perceptron",
        "Add a hidden layer and a nonlinearity and the boundary can bend: train on spiral or xor, which "
        "softmax cannot separate, and see what width, depth and the activation change.",
        (*COMMON, "dataset", "init_std", "hidden_units", "hidden_layers", "activation", "naive_softmax"),
    ),
}

PITFALLS = {
    "broadcast_bug": "Squared loss with y.view(-1) against (n, 1) predictions: broadcasting makes an "
    "n-by-n matrix and the model learns the wrong thing.",
    "skip_zero_grad": "Never clear .grad between steps: gradients pile up, the steps keep growing and "
    "training goes wrong.",
    "naive_softmax": "exp(o) / sum exp(o) without subtracting the largest score first: big scores "
    "overflow to inf and the loss turns into NaN (scratch implementation only).",
}
BOOL_FIELDS = frozenset(PITFALLS) | {"landscape_fix_b"}
TRUE_W = {"book": [2.0, -3.4], "line": [2.0]}
TRUE_W_LABELS = {"book": "2 features (the book)", "line": "1 feature (draw the line)"}
DATASET_LABELS = {
    "auto": "auto (Fashion-MNIST if downloaded, else digits)",
    "fashion-mnist": "Fashion-MNIST (28x28 clothes)",
    "digits": "digits (8x8 handwritten, built in)",
    "blobs": "blobs (3 clusters, 2-D)",
    "spiral": "spiral (3 arms, 2-D)",
    "circles": "circles (2 rings, 2-D)",
    "xor": "xor (4 quadrants, 2-D)",
}
ACTIVATIONS = get_args(Activation)
# How a setting is named in a legend or summary; "" means the value alone says it (e.g. "concise").
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


# --- settings: URL query and form fields <-> run spec -------------------------------------------------
def raw_spec(model: Model, values) -> tuple[dict, list[str]]:
    """Form or query strings as a spec dict for parse_spec, plus problems found on the way."""
    raw: dict = {"model": model.key}
    problems = []
    for name in model.controls:
        value = values.get(name)
        if name in BOOL_FIELDS:
            raw[name] = str(value or "").lower() in ("on", "true", "1", "yes")
        elif value is None:
            continue
        elif name == "true_w":
            if value in TRUE_W:
                raw[name] = TRUE_W[value]
            else:
                problems.append(f"true_w: choose {' or '.join(TRUE_W)} (got {value!r})")
        else:
            raw[name] = str(value).strip()
    return raw, problems


def spec_from_query(model: Model, query) -> tuple[BaseModel, list[str]]:
    """The settings a link asks for; each invalid one falls back to its default with a notice."""
    raw, notices = raw_spec(model, query)
    kept = {"model": model.key}
    for name, value in raw.items():
        try:
            parse_spec({"model": model.key, name: value})
            kept[name] = value
        except SpecError as error:
            notices.extend(error.problems)
    try:
        return parse_spec(kept), notices
    except SpecError as error:  # a rule across settings (naive_softmax needs scratch)
        notices.extend(error.problems)
        kept.pop("naive_softmax", None)
        try:
            return parse_spec(kept), notices
        except SpecError:
            return parse_spec({"model": model.key}), notices


def field_bounds(spec_class: type[BaseModel], name: str) -> dict:
    """min, max and step for an <input type=number>, from the spec's field metadata."""
    field = spec_class.model_fields[name]
    bounds: dict = {"step": "1" if field.annotation is int else "any"}
    for rule in field.metadata:
        for attr in ("ge", "gt"):
            if getattr(rule, attr, None) is not None:
                bounds["min"] = getattr(rule, attr)
        for attr in ("le", "lt"):
            if getattr(rule, attr, None) is not None:
                bounds["max"] = getattr(rule, attr)
    bounds["help"] = field.description or ""
    return bounds


def controls_of(model: Model, spec: BaseModel) -> dict:
    spec_class = SPEC_CLASSES[model.key]
    controls = {}
    for name in model.controls:
        control = field_bounds(spec_class, name) if name != "true_w" else {"help": ""}
        control["value"] = getattr(spec, name)
        controls[name] = control
    if "true_w" in controls:
        controls["true_w"]["value"] = "line" if len(spec.true_w) == 1 else "book"
    controls["lr"]["log10"] = round(min(max(math.log10(spec.lr), LOG_LR_MIN), LOG_LR_MAX), 2)
    return controls


def localized_help(request: Request, controls: dict) -> dict:
    """Each control's help line in the visitor's language, where the catalog has one (help.<name>)."""
    for name, control in controls.items():
        if f"help.{name}" in messages():
            control["help"] = tr(request, f"help.{name}")
    return controls


def play_query(spec: dict) -> str:
    """The playground URL query that sets up `spec` again."""
    model = MODELS.get(spec.get("model"))
    pairs = []
    for name in model.controls if model else ():
        value = spec.get(name)
        if name == "true_w":
            pairs.append((name, "line" if len(value or []) == 1 else "book"))
        elif name in BOOL_FIELDS:
            pairs += [(name, "on")] if value else []
        elif value is not None:
            pairs.append((name, format_value(name, value)))
    return urlencode(pairs)


# --- words and numbers for the templates ---------------------------------------------------------------
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


def status_event(request: Request, run: RunState) -> dict:
    """What the status line says now: the last started/finished event, or where the run waits."""
    if run.ending or run.started:
        return run.ending or run.started
    if run.status == "queued":
        return {"type": "queued", "run_id": run.id, "position": runs_of(request).position(run.id)}
    return {"type": "starting"}


def runs_of(request: Request) -> RunService:
    return request.app.state.runs


def tr(request: Request, key: str, **values) -> str:
    """The catalog text of `key` in the visitor's language, with {placeholders} filled in."""
    text = messages()[key][language(request)]
    return text.format(**values) if values else text


def tr_coded(request: Request, key: str, fallback: str, **values) -> str:
    """A sentence the training core wrote with a code: the catalog's `key` in the visitor's language
    where the catalog has it, else the core's own English (`fallback`)."""
    return tr(request, key, **values) if key in messages() else fallback


def js_messages(request: Request) -> dict[str, str]:
    """The catalog entries the JavaScript needs (keys starting with "js."), in the visitor's language."""
    lang = language(request)
    return {key: texts[lang] for key, texts in messages().items() if key.startswith("js.")}


def page(request: Request, name: str, status_code: int = 200, headers: dict | None = None, **context):
    context.setdefault("js_messages", js_messages(request))
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)


def not_found(request: Request, message: str) -> HTMLResponse:
    return page(request, "error.html", 404, title=tr(request, "error.not_found"), message=message)


def refused(request: Request, status_code: int, title: str, problems: list[str]) -> HTMLResponse:
    """A message shown next to the Train button; the run panel below it stays as it was."""
    headers = {"HX-Retarget": "#form-problems", "HX-Reswap": "innerHTML"}
    problems = localized(request, problems)
    return page(request, "fragments/refused.html", status_code, headers, title=title, problems=problems)


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


def panel_context(request: Request, run: RunState) -> dict:
    return {
        "run": run,
        "model": MODELS.get(run.spec.get("model")),
        "summary": summary(run.spec),
        "status_event": status_event(request, run),
        "final_result": final_result(request, run),
        "finished": run.status in FINISHED,
        "play_query": play_query(run.spec),
    }


# --- routes -------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
async def home(request: Request):
    return page(request, "home.html", models=MODELS.values())


@router.get("/play/{model_key}", response_class=HTMLResponse)
async def playground(request: Request, model_key: str):
    model = MODELS.get(model_key)
    if model is None:
        return not_found(request, tr(request, "error.no_playground", name=repr(model_key)))
    spec, notices = spec_from_query(model, request.query_params)
    return page(
        request,
        "play.html",
        model=model,
        controls=localized_help(request, controls_of(model, spec)),
        notices=localized(request, notices),
        pitfalls={name: tr(request, f"pitfall.{name}") for name in PITFALLS},
        datasets=[(d, tr(request, f"dataset.{d}")) for d in get_args(ClassificationDataset)],
        true_w_choices={value: tr(request, f"truew.{value}") for value in TRUE_W_LABELS},
        activations=ACTIVATIONS,
    )


@router.post("/play/{model_key}/runs", response_class=HTMLResponse)
async def start_run(request: Request, model_key: str):
    model = MODELS.get(model_key)
    if model is None:
        return not_found(request, tr(request, "error.no_playground", name=repr(model_key)))
    raw, problems = raw_spec(model, await request.form())
    try:
        spec = parse_spec(raw)
    except SpecError as error:
        problems += error.problems
    if problems:
        return refused(request, 422, tr(request, "refused.fix"), problems)
    try:
        run = await runs_of(request).submit(
            spec.model_dump(), visitor_of(request), is_admin=is_admin(request)
        )
    except Refused as error:
        return refused_run(request, error)
    return page(request, "fragments/train_response.html", **panel_context(request, run))


def refused_run(request: Request, error: Refused) -> HTMLResponse:
    status, title, problems, headers = refusal(request, error)
    response = refused(request, status, title, problems)
    response.headers.update(headers)
    return response


@router.get("/play/runs/{run_id}/status", response_class=HTMLResponse)
async def run_status(request: Request, run_id: str):
    run = runs_of(request).get(run_id)
    event = status_event(request, run) if run else {"type": "unknown"}
    return page(request, "fragments/status.html", event=event)


@router.post("/play/runs/{run_id}/cancel", response_class=HTMLResponse)
async def cancel_run(request: Request, run_id: str):
    """Ask the run to stop and disable the button. The status line is left to the event stream, which
    says `cancelled` when the worker stops: a reply here could arrive after that and overwrite it."""
    service = runs_of(request)
    run = service.get(run_id) if len(run_id) <= 64 else None
    if run is None:
        raise HTTPException(404, tr(request, "error.no_run", id=repr(run_id[:64])))
    if not may_change(request, run.owner):
        label = tr(request, "refused.not_yours")
        return HTMLResponse(
            f'<button type="button" id="cancel" class="danger" disabled>{escape(label)}</button>', 403
        )
    if run.status not in FINISHED:
        service.cancel(run_id)  # a queued run ends at once; a running one stops between two steps
    label = tr(request, "cancel.cancelling" if run.status not in FINISHED else "cancel.finished")
    return HTMLResponse(f'<button type="button" id="cancel" class="danger" disabled>{label}</button>')


@router.get("/runs", response_class=HTMLResponse)
async def runs_page(request: Request):
    owner = None if is_admin(request) else visitor_of(request)
    rows = await asyncio.to_thread(runs_of(request).store.recent, RUNS_LISTED, owner)
    listed = [
        {
            "id": row.id,
            "model": row.model,
            "title": tr(request, f"model.{row.model}.title") if row.model in MODELS else row.model,
            "summary": summary(row.spec)[1:],
            "status": row.status,
            "final": row.final or {},
            "created": row.created_at,
            "ago": ago(request, row.created_at),
        }
        for row in rows
    ]
    races = [
        {"id": race.id, "vary": race.vary, "n": len(race.run_ids), "ago": ago(request, race.created_at)}
        for race in await asyncio.to_thread(runs_of(request).store.recent_races, 20, owner)
    ]
    return page(
        request, "runs.html", runs=listed, races=races, compare_min=COMPARE_MIN, compare_max=COMPARE_MAX
    )


@router.get("/runs/compare", response_class=HTMLResponse)
async def compare(request: Request, ids: Annotated[list[str] | None, Query()] = None):
    ids = list(dict.fromkeys(i.strip() for i in ids or [] if i.strip()))
    if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        message = tr(request, "error.compare_count", min=COMPARE_MIN, max=COMPARE_MAX, n=len(ids))
        return page(request, "error.html", 400, title=tr(request, "error.cannot_compare"), message=message)
    service = runs_of(request)
    runs = [service.get(i) for i in ids]
    unknown = [i for i, run in zip(ids, runs, strict=True) if run is None]
    if unknown:
        return not_found(request, tr(request, "error.no_run", id=", ".join(unknown)))
    labels = legend_labels(runs)
    store = runs_of(request).store
    readers = [(run, label, events_of(run, store)) for run, label in zip(runs, labels, strict=True)]
    series = await asyncio.to_thread(lambda: [curves(*reader) for reader in readers])
    return page(
        request,
        "compare.html",
        series=series,
        runs=list(zip(runs, labels, strict=True)),
        summaries=[summary(run.spec) for run in runs],
    )


def curves(run: RunState, label: str, events) -> dict:
    """The loss per step and the test metrics per epoch of one run, for the compare charts; the step
    curve thinned to at most COMPARE_POINTS points (a chart is a few hundred pixels wide). Reads the
    run's events as it goes: call it in a thread."""
    started, steps, epochs, stride, seen = None, [], [], 1, 0
    for e in events:
        if e["type"] == "step":
            seen += 1
            if seen % stride == 0:
                steps.append([e["step"], e["loss"]])
            if len(steps) >= 2 * COMPARE_POINTS:  # keep every other point, and take half as many
                steps, stride = steps[1::2], 2 * stride
        elif e["type"] == "epoch":
            epochs.append([e["epoch"], e.get("test_acc"), e["test_loss"]])
        elif e["type"] == "started":
            started = e
    if started:
        epochs.insert(0, [0, started.get("initial_test_acc"), started.get("initial_test_loss")])
    return {
        "id": run.id,
        "label": label,
        "status": run.status,
        "steps_per_epoch": started["steps_per_epoch"] if started else None,
        "steps": steps,
        "epochs": epochs,
    }


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: str):
    run = runs_of(request).get(run_id)
    if run is None:
        return not_found(request, tr(request, "error.no_run", id=repr(run_id)))
    return page(request, "run.html", **panel_context(request, run))
