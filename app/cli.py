"""The `d2l-playground` command: train a model in the terminal, manage datasets."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from app.settings import get_settings

app = typer.Typer(help="Dive into Deep Learning, chapter 3, trained live.", no_args_is_help=True)
data_app = typer.Typer(help="List and download datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()
errors = Console(stderr=True)

Opt = typer.Option
NOT_SPEC = {"as_json", "device", "notebook", "notebook_lang"}  # train's options that are not settings


class Language(StrEnum):
    """The languages a notebook is written in."""

    en = "en"
    zh = "zh"


@app.command()
def train(
    model: Annotated[str, typer.Argument(help="linreg, softmax or mlp")],
    dataset: Annotated[str | None, Opt(help="see `d2l-playground data list`")] = None,
    impl: Annotated[str | None, Opt(help="scratch (the book's own code) or concise (torch.nn)")] = None,
    lr: Annotated[float | None, Opt(help="learning rate")] = None,
    batch_size: Annotated[int | None, Opt(help="examples per minibatch")] = None,
    epochs: Annotated[int | None, Opt(help="passes over the training set")] = None,
    seed: Annotated[int | None, Opt(help="random seed")] = None,
    init_std: Annotated[float | None, Opt(help="std of the initial weights")] = None,
    weight_decay: Annotated[float | None, Opt(help="L2 penalty on the weights")] = None,
    hidden_units: Annotated[int | None, Opt(help="MLP: units per hidden layer")] = None,
    hidden_layers: Annotated[int | None, Opt(help="MLP: number of hidden layers")] = None,
    activation: Annotated[str | None, Opt(help="MLP: relu, sigmoid, tanh or leaky_relu")] = None,
    true_w: Annotated[list[float] | None, Opt(help="linreg: a true weight (repeat for each feature)")] = None,
    true_b: Annotated[float | None, Opt(help="linreg: the true bias")] = None,
    n_examples: Annotated[int | None, Opt(help="examples to generate (synthetic and 2-D sets)")] = None,
    noise_std: Annotated[float | None, Opt(help="linreg: std of the label noise")] = None,
    noise: Annotated[float | None, Opt(help="2-D sets: noise")] = None,
    test_share: Annotated[float | None, Opt(help="2-D sets: share of points held out to test")] = None,
    data_seed: Annotated[int | None, Opt(help="2-D sets: draws the points (0: the run's seed does)")] = None,
    broadcast_bug: Annotated[bool, Opt(help="pitfall: squared loss with y.view(-1)")] = False,
    skip_zero_grad: Annotated[bool, Opt(help="pitfall: never clear the gradients")] = False,
    naive_softmax: Annotated[bool, Opt(help="pitfall: softmax without subtracting the max")] = False,
    device: Annotated[str | None, Opt(help="auto, cpu, cuda or mps (default: PLAYGROUND_DEVICE)")] = None,
    as_json: Annotated[bool, Opt("--json", help="print every event as one JSON line")] = False,
    notebook: Annotated[
        Path | None, Opt(help="then write the run as a Jupyter notebook that trains it again to FILE")
    ] = None,
    notebook_lang: Annotated[Language, Opt(help="the notebook's language")] = Language.en,
) -> None:
    """Train one model and print a row per epoch, like the book. Options left out take the defaults of
    the model on that dataset: the book's on Fashion-MNIST, small batches and more epochs on the small
    sets."""
    given = {key: value for key, value in locals().items() if key not in NOT_SPEC}
    chosen = {key: value for key, value in given.items() if value is not None and value is not False}
    from app.runs.malloc import reuse_freed_memory
    from app.training.data import auto_dataset  # torch loads only for commands that need it
    from app.training.specs import SpecError, parse_spec
    from app.training.trainer import train as run_training

    reuse_freed_memory()  # as a server's worker does

    settings = get_settings()
    try:  # options left out take the (model, dataset) pair's defaults; "auto" is named first
        spec = parse_spec(chosen, auto_dataset=auto_dataset(settings.data_dir))
    except SpecError as error:
        for problem in error.problems:
            errors.print(f"[red]error:[/red] {problem}")
        raise typer.Exit(2) from None
    events = run_training(
        spec,
        data_dir=settings.data_dir,
        device=device or settings.device,
        on_download_progress=None if as_json else DownloadBars().update,
    )
    seen: list = []
    if notebook is not None:
        events = keeping(events, seen)
    finished = print_json(events) if as_json else print_live(events)
    if notebook is not None:
        from app.notebook import notebook_text, result_from_events

        result = result_from_events("cli", seen)
        result["message"] = ending_message(finished.model_dump(), notebook_lang.value)
        write_notebook(notebook, notebook_text(spec.model_dump(), result, notebook_lang.value), as_json)
    if finished.status != "done":
        raise typer.Exit(1)


def keeping(events, kept: list):
    """The events, passed on; those a notebook reads (started, epoch, finished) also kept in `kept`."""
    for event in events:
        if event.type in ("started", "epoch", "finished"):
            kept.append(event)
        yield event


def ending_message(finished: dict, lang: str) -> str:
    """How a run ended, in `lang` where the web's catalog has the trainer's sentence, else its English."""
    from app.web.i18n import messages

    key = f"js.finish_{finished.get('code') or ''}"
    if key not in messages():
        return finished.get("message", "")
    return messages()[key][lang].format(**(finished.get("params") or {}))


def write_notebook(path: Path, text: str, quiet: bool = False) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        errors.print(f"[red]error:[/red] cannot write the notebook to {path}: {error}")
        raise typer.Exit(1) from None
    if not quiet:
        console.print(f"notebook written to {path}")


def print_json(events) -> Any:
    for event in events:
        print(event.model_dump_json(), flush=True)
    return event


def print_live(events) -> Any:
    """A progress bar over all steps, and a table row as each epoch ends."""
    table = Table("epoch", "train loss", "train acc", "test loss", "test acc", "sec", title="per epoch")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[loss]}"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = None
        for event in events:
            if event.type == "started":
                console.print(
                    f"{event.spec['model']} ({event.spec['impl']}) on {event.dataset}: "
                    f"{event.n_train} train / {event.n_test} test, {event.param_count} parameters, "
                    f"device {event.device}"
                )
                task = bar.add_task("training", total=event.total_steps, loss="")
            elif event.type == "step":
                bar.update(task, completed=event.step, loss=f"loss {event.loss:.4g}")
            elif event.type == "epoch":
                row = [
                    str(event.epoch),
                    f"{event.train_loss:.4g}",
                    percent(event.train_acc),
                    f"{event.test_loss:.4g}",
                    percent(event.test_acc),
                    f"{event.seconds:.2f}",
                ]
                table.add_row(*row)
                bar.console.print("epoch " + "  ".join(row))
    console.print(table)
    colour = "green" if event.status == "done" else "red"
    console.print(f"[{colour}]{event.status}[/{colour}]: {event.message}")
    return event


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


class DownloadBars:
    """A rich progress bar per downloaded file, created on its first chunk."""

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.tasks: dict[str, Any] = {}

    def update(self, filename: str, done: int, total: int | None) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=errors
            )
            self.progress.start()
        if filename not in self.tasks:
            self.tasks[filename] = self.progress.add_task(filename, total=total)
        self.progress.update(self.tasks[filename], completed=done)
        if total is not None and done >= total and all(t.finished for t in self.progress.tasks):
            self.progress.stop()
            self.progress, self.tasks = None, {}


@app.command("notebook")
def notebook_command(
    run_id: Annotated[str, typer.Argument(help="the run's id, as in /runs/RUN_ID")],
    out: Annotated[Path | None, Opt(help="the file to write (default: d2l-MODEL-RUN_ID.ipynb here)")] = None,
    lang: Annotated[Language, Opt(help="the notebook's language")] = Language.en,
    data_dir: Annotated[
        Path | None,
        Opt(help="the server's data directory, where its run store is (default: PLAYGROUND_DATA_DIR)"),
    ] = None,
) -> None:
    """Write a finished run of the server's run store as a Jupyter notebook that trains it again on its
    own: the same settings, seed and code, the curves, and the run's own numbers to compare."""
    from app.notebook import notebook_text
    from app.runs.service import FINISHED
    from app.runs.store import RunStore

    settings = get_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    row = RunStore(settings.run_store_url()).get(run_id)
    if row is None:
        errors.print(f"[red]error:[/red] no run {run_id!r} in {settings.run_store_url()}")
        raise typer.Exit(2)
    if row.status not in FINISHED:
        errors.print(
            f"[red]error:[/red] run {run_id} is {row.status}: its notebook can be made once it finished"
        )
        raise typer.Exit(1)
    ending = row.ending or {"status": row.status, "message": row.message}
    result = {
        "id": row.id,
        "status": row.status,
        "message": ending_message(ending, lang.value),
        "epochs": list(row.epochs or []),
        "dataset": row.dataset,
    }
    path = out or Path(f"d2l-{row.model}-{row.id}.ipynb")
    write_notebook(path, notebook_text(row.spec, result, lang.value))


@app.command()
def serve(
    host: Annotated[str | None, Opt(help="address (default: PLAYGROUND_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, Opt(help="port (default: PLAYGROUND_PORT, 8000)")] = None,
    access_log: Annotated[
        bool, Opt(help="log every request (a class makes thousands a minute; off by default)")
    ] = False,
) -> None:
    """Serve the web playground, with training workers and a run store on embedded defaults."""
    import uvicorn

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    uvicorn.run("app.main:app", host=host, port=port, access_log=access_log)


@app.command()
def worker(
    queues: Annotated[
        str | None,
        Opt(help="comma-separated queues (default: PLAYGROUND_WORKER_QUEUES, else gpu,cpu or cpu)"),
    ] = None,
    name: Annotated[str | None, Opt(help="Celery node name (default: worker-PID@host)")] = None,
) -> None:
    """Train runs from the broker (PLAYGROUND_BROKER_URL), one at a time; start more to scale out."""
    settings = get_settings()
    if not settings.broker_url:
        errors.print(
            "[red]PLAYGROUND_BROKER_URL is not set[/]: a worker needs a broker, e.g. redis://localhost:6379/0"
        )
        raise typer.Exit(2)
    from app.runs.broker.worker import run_worker

    chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues else settings.queues_to_consume()
    run_worker(settings, chosen, name)


@data_app.command("list")
def data_list() -> None:
    """Every dataset, and whether it is ready to use here."""
    from app.training.data import DATASETS, fashion_mnist

    data_dir = get_settings().data_dir
    table = Table("dataset", "what it is", "ready")
    for name, about in DATASETS.items():
        ready = fashion_mnist.is_on_disk(data_dir) if name == "fashion-mnist" else True
        table.add_row(name, about, "yes" if ready else f"no: run `d2l-playground data fetch {name}`")
    console.print(table)
    console.print(f"data directory: {data_dir} (PLAYGROUND_DATA_DIR)")


@data_app.command("fetch")
def data_fetch(name: Annotated[str, typer.Argument(help="fashion-mnist")]) -> None:
    """Download a dataset once, verify its checksums, and keep it under the data directory."""
    from app.training.data import DatasetUnavailable, fashion_mnist

    if name != "fashion-mnist":
        errors.print(f"[red]error:[/red] only fashion-mnist is downloaded; {name!r} needs no download")
        raise typer.Exit(2)
    settings = get_settings()
    try:
        folder = fashion_mnist.fetch(settings, on_progress=DownloadBars().update)
    except DatasetUnavailable as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    console.print(f"Fashion-MNIST is ready in {folder}")


def main() -> None:  # pragma: no cover - the console script calls `app` directly
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
