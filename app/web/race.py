"""Races: 2 to 4 runs that differ in one control, same seed, drawn live on one chart.

One click starts the runs (ordinary runs: they queue, train and stay in the history like any other);
the race itself is a row naming them. Its page keeps one event stream that multiplexes the runs'
event logs: each message carries its lane, and its id lists how far each lane has been read
("12.7.30"), so a viewer that reconnects with Last-Event-ID resumes every lane exactly where it was.
The stream is a RaceFeed (race_feed.py): each event is encoded once for all of a race's viewers.
"""

import asyncio
import math
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictFloat, StrictInt, StrictStr
from sse_starlette import EventSourceResponse

from app.runs.service import Refused, RunState, new_id
from app.training.specs import Problem, SpecError, parse_spec, shorten

from .api import event_stream
from .datasets import auto_dataset
from .errors import ERROR_RESPONSES
from .forms import MODELS, raw_spec
from .identity import is_admin, visitor_of
from .refusals import refusal_error
from .templating import templates
from .views import cancel_replaced, not_found, page, refused, refused_run, runs_of
from .wording import format_value, setting_name, summary, tr

router = APIRouter(tags=["races"], responses=ERROR_RESPONSES)
RaceControl = Literal[
    "lr", "batch_size", "init_std", "weight_decay", "impl", "activation", "hidden_units", "hidden_layers"
]
RACE_CONTROLS: tuple[str, ...] = RaceControl.__args__
SUGGESTED = {
    "lr": "0.01, 0.1, 1",
    "batch_size": "1, 10, 100",
    "init_std": "0.01, 0.1, 1",
    "weight_decay": "0, 0.001, 0.01",
    "impl": "scratch, concise",
    "activation": "relu, sigmoid, tanh",
    "hidden_units": "16, 64, 256",
    "hidden_layers": "1, 2, 3",
}


PRESETS = {  # (catalog key, playground query) per model: the races the course's questions call for
    "linreg": [
        ("race.preset.lr", "race_vary=lr&race_values=0.01,0.1,1,10"),
        ("race.preset.batch", "race_vary=batch_size&race_values=1,10,100"),
    ],
    "softmax": [
        ("race.preset.lr", "race_vary=lr&race_values=0.01,0.1,1,10"),
        ("race.preset.impl", "race_vary=impl&race_values=scratch,concise"),
    ],
    "mlp": [
        (
            "race.preset.activations",
            # measured: after 10 epochs sigmoid 35% test accuracy, ReLU 97%
            "dataset=digits&hidden_layers=3&init_std=0.1&lr=0.1&batch_size=32&epochs=10"
            "&race_vary=activation&race_values=sigmoid,relu",
        ),
        ("race.preset.lr", "race_vary=lr&race_values=0.01,0.1,1,10"),
    ],
}


def race_setup(model, query) -> dict:
    """The Race box of a playground page: the controls this model can race, the chosen one and its
    values (from the URL, so a link can hand out a ready-made race), and the preset links."""
    controls = [name for name in RACE_CONTROLS if name in model.controls]
    vary = query.get("race_vary") if query.get("race_vary") in controls else "lr"
    return {
        "controls": controls,
        "vary": vary,
        "value_text": query.get("race_values") or SUGGESTED[vary],
        "suggested": {name: SUGGESTED[name] for name in controls},
        "presets": PRESETS.get(model.key, []),
    }


templates.env.globals["race_setup"] = race_setup


def number_or_word(value):
    """A raced value as JSON may give it: a finite number or a word; never true, NaN, a list or an object."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("each value is a number or a word")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("each value is a finite number or a word, not NaN or infinity")
    return value


RaceValue = Annotated[StrictInt | StrictFloat | StrictStr, BeforeValidator(number_or_word)]


class RaceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: dict = Field(description="a run spec, as for POST /api/runs; the control being raced is replaced")
    vary: RaceControl = Field(description="the one control that differs between the runs")
    values: list[RaceValue] = Field(min_length=2, max_length=4, description="2 to 4 values for it")


def plan(race: RaceRequest, *, strict: bool = False, auto_dataset: str | None = None) -> list[dict]:
    """One validated spec per value; SpecError names what does not fit: the base's own settings once,
    then each value. `strict` as in parse_spec: JSON's numbers stay numbers, a form's strings parse."""
    parse_spec(without(race.base, race.vary), strict=strict, auto_dataset=auto_dataset)
    specs, problems = [], []
    for value in race.values:
        try:
            spec = parse_spec(race.base | {race.vary: value}, strict=strict, auto_dataset=auto_dataset)
            specs.append(spec.model_dump())
        except SpecError as error:
            problems += [value_problem(race.vary, value, problem) for problem in error.problems]
    if problems:
        raise SpecError(problems)
    refuse_repeats(race.values, [spec[race.vary] for spec in specs])
    return specs


def without(base: dict, name: str) -> dict:
    return {key: value for key, value in base.items() if key != name}


def value_problem(vary: str, value, problem: str) -> Problem:
    shown = shorten(str(value))
    return Problem(f"{vary} = {shown}: {problem}", "race_value", name=vary, value=shown, inner=problem)


def refuse_repeats(values: list, as_parsed: list) -> None:
    """Each value once, compared as the specs hold them: 1 and 1.0 are one learning rate."""
    if len(set(as_parsed)) != len(as_parsed):
        shown = ", ".join(map(str, values))
        raise SpecError(
            [Problem(f"values: each value once, please (got {shown})", "race_repeats", values=shown)]
        )


async def start(request: Request, specs: list[dict], vary: str) -> str:
    """Queue every run of the race for the visitor, or none when any of them would be refused.
    The race's runs form one group: it counts once against the visitor's runs in flight."""
    service, owner, race_id = runs_of(request), visitor_of(request), new_id()
    runs = await service.submit_all(specs, owner, race_id, is_admin(request))
    await asyncio.to_thread(service.store.add_race, race_id, vary, [run.id for run in runs], owner)
    return race_id


def lanes(request: Request, race_id: str) -> tuple[str, list[RunState]]:
    row = runs_of(request).store.race(race_id) if len(race_id) <= 64 else None
    runs = [runs_of(request).get(run_id) for run_id in row.run_ids] if row else []
    if row is None or None in runs:
        raise HTTPException(404, f"no race with id {race_id[:64]!r}")
    return row.vary, runs


def label(request: Request, vary: str, run: RunState) -> str:
    return f"{setting_name(request, vary)} = {format_value(request, vary, run.spec[vary])}"


def describe(request: Request, race_id: str, vary: str, runs: list[RunState]) -> dict:
    return {
        "id": race_id,
        "vary": vary,
        "runs": [{"id": run.id, "label": label(request, vary, run), "status": run.status} for run in runs],
        "events_url": f"/api/races/{race_id}/events",
        "page_url": f"/races/{race_id}",
    }


# --- one stream for all lanes ---------------------------------------------------------------------
LANE_POSITION = r"\d{1,15}"  # a log position never has more digits; int() refuses over 4300


def lane_positions(last_event_id: str | None, count: int) -> list[int]:
    """'12.7.30' -> [12, 7, 30]; anything else starts every lane from the beginning."""
    if last_event_id and re.fullmatch(rf"{LANE_POSITION}(\.{LANE_POSITION})*", last_event_id):
        positions = [int(part) for part in last_event_id.split(".")]
        if len(positions) == count:
            return positions
    return [0] * count


# --- JSON API -------------------------------------------------------------------------------------
@router.post("/api/races", status_code=201)
async def create_race(request: Request, race: RaceRequest) -> dict:
    """Start 2 to 4 runs that differ only in `vary` (same seed), to watch them side by side."""
    try:
        specs = plan(race, strict=True, auto_dataset=auto_dataset(request))
    except SpecError as error:
        raise HTTPException(422, error.problems) from None
    try:
        race_id = await start(request, specs, race.vary)
    except Refused as error:
        raise refusal_error(request, error) from None
    return describe(request, race_id, *lanes(request, race_id))


@router.get("/api/races/{race_id}")
async def get_race(request: Request, race_id: str) -> dict:
    return describe(request, race_id, *lanes(request, race_id))


@router.get("/api/races/{race_id}/events")
async def race_events(
    request: Request, race_id: str, last_event_id: Annotated[str | None, Header()] = None
) -> EventSourceResponse:
    """The race's runs in one stream: started, step, epoch and finished events with a `lane`."""
    _, runs = lanes(request, race_id)
    positions = lane_positions(last_event_id, len(runs))
    feed = request.app.state.race_feeds.of(race_id, [run.log for run in runs])
    return event_stream(request, feed.follow(positions))


# --- pages ----------------------------------------------------------------------------------------
def values_of(text: str) -> list[str]:
    return [value for value in re.split(r"[,\s;]+", text.strip()) if value]


@router.post("/play/{model_key}/race", response_class=HTMLResponse)
async def start_race_from_form(request: Request, model_key: str):
    """The playground's Race button: the form's setup, with one control taking 2 to 4 values."""
    model = MODELS.get(model_key)
    if model is None:
        raise HTTPException(404, f"no playground named {model_key!r}")
    form = await request.form()
    base, problems = raw_spec(model, form)
    vary, values = str(form.get("race_vary", "")), values_of(str(form.get("race_values", "")))
    if vary not in RACE_CONTROLS or vary not in model.controls:
        problems.append(tr(request, "race.bad_control", name=vary))
    elif not 2 <= len(values) <= 4:
        problems.append(tr(request, "race.bad_count", n=len(values)))
    try:
        race = None if problems else RaceRequest(base=base, vary=vary, values=values)
        specs = [] if race is None else plan(race, auto_dataset=auto_dataset(request))
        if not problems:
            cancel_replaced(request, form)
        race_id = None if problems else await start(request, specs, vary)
    except SpecError as error:
        problems += error.problems
    except Refused as error:
        return refused_run(request, error)
    if problems:
        return refused(request, 422, tr(request, "refused.fix"), problems)
    url = f"/races/{race_id}"
    if request.headers.get("HX-Request"):  # htmx would follow a 303 itself and swap the page into #live
        return Response(status_code=200, headers={"HX-Redirect": url})
    return Response(status_code=303, headers={"Location": url})


@router.get("/races/{race_id}", response_class=HTMLResponse)
async def race_page(request: Request, race_id: str):
    try:
        vary, runs = lanes(request, race_id)
    except HTTPException:
        return not_found(request, tr(request, "race.none", id=repr(race_id)))
    raced = format_value(request, vary, runs[0].spec[vary])
    shared = [part for part in summary(request, runs[0].spec) if not part.endswith(raced) and part != raced]
    return page(
        request,
        "race.html",
        race=describe(request, race_id, vary, runs),
        model_key=runs[0].spec["model"],
        summary=shared,
        metric="loss" if runs[0].spec["model"] == "linreg" else "acc",
    )
