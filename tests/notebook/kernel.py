"""Run a generated notebook headless in a python3 kernel (nbclient + ipykernel), and produce the runs
they reproduce with the trainer itself, in this process."""

import copy
import json
from pathlib import Path

import torch
from nbclient import NotebookClient
from nbformat import v4

from app.notebook import notebook_for, result_from_events
from app.training.specs import parse_spec
from app.training.trainer import train

CELL_TIMEOUT_S = 120  # one cell at most; a whole notebook here trains for a second or two
MARKER = "NOTEBOOK-RESULT "


def trained(spec: dict, data_dir: Path) -> tuple[dict, list[dict]]:
    """A short run trained in this process on the CPU: its spec (as the store keeps it) and its events."""
    run_spec = parse_spec(spec)
    events = [event.model_dump() for event in train(run_spec, data_dir=data_dir, device="cpu")]
    return run_spec.model_dump(), events


def notebook_of(spec: dict, events: list[dict], lang: str = "en", run_id: str = "test-run"):
    return notebook_for(spec, result_from_events(run_id, events), lang)


def execute(notebook, report: str) -> dict:
    """Execute a copy of the notebook, with this process's torch thread count set first (so sums add up
    in the same order as in the run) and one cell at the end that prints `report`, a JSON-able
    expression; return its value. Raises nbclient's CellExecutionError if any cell fails."""
    notebook = copy.deepcopy(notebook)
    threads = v4.new_code_cell(f"import torch\ntorch.set_num_threads({torch.get_num_threads()})")
    reporting = v4.new_code_cell(f"import json\nprint({MARKER!r} + json.dumps({report}))")
    notebook.cells = [threads, *notebook.cells, reporting]
    NotebookClient(notebook, timeout=CELL_TIMEOUT_S, startup_timeout=60, kernel_name="python3").execute()
    text = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    line = next(line for line in text.splitlines() if line.startswith(MARKER))
    return json.loads(line.removeprefix(MARKER))
