"""The datasets the playground offers, as they stand on this server, and Fashion-MNIST's download from
the page.

- `dataset_choices(request)`: each classification dataset for the playground's menu, whether it is on disk
  and whether the page can download it.
- `GET /datasets/fashion-mnist`: an htmx fragment saying that the files are there; or offering a Download
  button; or the download's progress (the fragment asks again every second while it runs); or why it
  failed, in the visitor's language with the technical detail folded; and, while the files are missing,
  how to place them by hand.
- `POST /datasets/fashion-mnist/download`: starts the download. Any visitor may: the files serve everyone,
  one download runs at a time for the whole server (pressing again shows the one running), and once the
  files are there nothing is offered. Who started it is kept, so the page can tell them apart.

The training core's data package imports torch as soon as any of it is imported (its __init__ loads every
dataset), and the web process never imports torch. So the download runs in a child process
(`fashion_mnist.fetch_reporting`: the download-and-verify code of `d2l-playground data fetch`), followed
by a thread that reads the child's JSON lines; the event loop only reads the latest state.
"""

import json
import os
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.settings import Settings
from app.training.defaults import auto_dataset_name
from app.training.specs import ClassificationDataset

from .i18n import language, messages
from .identity import visitor_of
from .templating import templates

router = APIRouter(include_in_schema=False)

ROOT = Path(__file__).resolve().parents[2]
FASHION_MNIST = "fashion-mnist"
# The four files the training core needs (app/training/data/fashion_mnist.FILES; a test keeps them equal).
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
FETCH_COMMAND = "d2l-playground data fetch fashion-mnist"
CHILD_CODE = (
    "import sys; from app.training.data.fashion_mnist import fetch_reporting; "
    "sys.exit(fetch_reporting(*sys.argv[1:]))"
)
PROGRESS_KEYS = ("file", "number", "count", "done", "total")
ERROR_CODES = ("offline", "failed", "no_mirrors", "cannot_write", "crashed")


def fashion_mnist_folder(settings: Settings) -> Path:
    return Path(settings.data_dir) / FASHION_MNIST


def fashion_mnist_on_disk(settings: Settings) -> bool:
    """All four files present (the download verified each one's MD5 before giving it its name)."""
    folder = fashion_mnist_folder(settings)
    return all((folder / name).is_file() for name in FASHION_MNIST_FILES)


def auto_dataset(request: Request) -> str:
    """What the dataset "auto" trains on this server (Fashion-MNIST on disk, else digits): specs parsed
    here name it, so they take that pair's defaults and the stored run says what it trained on."""
    return auto_dataset_name(fashion_mnist_on_disk(request.app.state.settings))


def dataset_choices(request: Request) -> list[dict]:
    """The playground's dataset menu on this server, in order: for each classification dataset its `name`
    (the spec's value), `label` (in the visitor's language), `on_disk` (built-in and generated sets always
    are; `auto` is too, as it falls back to digits) and `downloadable` (missing here, and the page can
    start its download: only Fashion-MNIST, when mirrors are configured)."""
    settings: Settings = request.app.state.settings
    fashion_present = fashion_mnist_on_disk(settings)
    catalog, lang = messages(), language(request)
    choices = []
    for name in get_args(ClassificationDataset):
        on_disk = fashion_present if name == FASHION_MNIST else True
        downloadable = name == FASHION_MNIST and not on_disk and bool(settings.fashion_mnist_mirrors)
        label = catalog[f"dataset.{name}"][lang]
        choices.append({"name": name, "label": label, "on_disk": on_disk, "downloadable": downloadable})
    return choices


@dataclass(frozen=True)
class Progress:
    """Where the download stands. Replaced whole, never changed in place, so a reader sees one moment."""

    status: Literal["idle", "running", "done", "failed"] = "idle"
    started_by: str = ""
    file: str = ""  # the file being downloaded
    number: int = 0  # its place among the files, from 1
    count: int = len(FASHION_MNIST_FILES)
    done: int = 0  # bytes of it so far
    total: int | None = None  # its size, when the mirror says
    code: str = ""  # why it failed: download.<code> in the catalog
    values: dict = field(default_factory=dict)
    detail: str = ""  # the technical English, for the folded part

    @property
    def percent(self) -> int:
        """Of the whole download: the files before this one, plus the share of this one."""
        if self.status == "done":
            return 100
        if not self.number:
            return 0
        share = min(1.0, self.done / self.total) if self.total else 0.0
        return int(100 * (self.number - 1 + share) / max(1, self.count))


class FashionMnistDownload:
    """One Fashion-MNIST download at a time for the whole server, in a child process that may import
    torch, followed by a thread. `checksums` replaces the official MD5s (tests serve files of their own)."""

    def __init__(self, settings: Settings, checksums: dict[str, str] | None = None):
        self.settings, self.checksums = settings, checksums
        self.progress = Progress()
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None

    def start(self, visitor: str) -> bool:
        """Start downloading unless a download is running; whether this call started one."""
        with self._lock:
            if self.progress.status == "running":
                return False
            self.progress = Progress(status="running", started_by=visitor)
        threading.Thread(target=self._run, name="fashion-mnist-download", daemon=True).start()
        return True

    def close(self) -> None:
        """Stop a download still running (the server is stopping); its half-written file is removed."""
        child = self._child
        if child is not None and child.poll() is None:
            child.terminate()

    def _run(self) -> None:
        """Follow the child's report; its last word (done, failed) counts once it has exited, so a new
        download cannot start while this one is still ending."""
        ending, other_lines = None, deque(maxlen=20)  # other lines: what the child wrote that is no event
        try:
            with self._spawn() as child:
                self._child = child
                for line in child.stdout:
                    event = self._event(line)
                    if event is None:
                        other_lines.append(line.rstrip())
                    elif event["type"] == "progress":
                        self.progress = replace(self.progress, **{key: event[key] for key in PROGRESS_KEYS})
                    else:
                        ending = event
            ended = f"the download process ended with exit code {child.returncode}"
        except OSError as error:  # the child could not be started at all
            ended = f"the download process could not start: {type(error).__name__}: {error}"
        self.progress = self._ended(ending, "\n".join([*other_lines, ended]))

    def _ended(self, ending: dict | None, crash_detail: str) -> Progress:
        if ending is not None and ending["type"] == "done":
            return replace(self.progress, status="done")
        if ending is None:  # it ended without saying how: killed, or it crashed
            return replace(self.progress, status="failed", code="crashed", detail=crash_detail)
        code = ending.get("code") if ending.get("code") in ERROR_CODES else "failed"
        values, detail = ending.get("values") or {}, ending.get("message", "")
        return replace(self.progress, status="failed", code=code, values=values, detail=detail)

    def _spawn(self) -> subprocess.Popen:
        settings = self.settings
        env = os.environ | {
            "PLAYGROUND_DATA_DIR": str(settings.data_dir),
            "PLAYGROUND_FASHION_MNIST_MIRRORS": json.dumps(list(settings.fashion_mnist_mirrors)),
            "PLAYGROUND_DOWNLOAD_TIMEOUT_S": str(settings.download_timeout_s),
        }
        arguments = [json.dumps(self.checksums)] if self.checksums else []
        return subprocess.Popen(
            [sys.executable, "-c", CHILD_CODE, *arguments],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @staticmethod
    def _event(line: str) -> dict | None:
        """One event of the child's report, or None for any other line (a warning, a traceback)."""
        try:
            event = json.loads(line)
        except ValueError:
            return None
        if not isinstance(event, dict) or event.get("type") not in ("progress", "done", "failed"):
            return None
        if event["type"] == "progress" and not all(key in event for key in PROGRESS_KEYS):
            return None
        return event


def downloader(request: Request) -> FashionMnistDownload:
    return request.app.state.fashion_mnist_download


def megabytes(count: int | None) -> str:
    return "?" if count is None else f"{count / 1e6:.1f}"


def fashion_mnist_status(request: Request) -> dict:
    """What templates/fragments/dataset_status.html needs (for a page that includes it directly)."""
    settings: Settings = request.app.state.settings
    progress = downloader(request).progress
    catalog, lang = messages(), language(request)
    folder = fashion_mnist_folder(settings)
    problem = ""
    if progress.status == "failed":
        values = {"filename": "", "folder": str(folder), **progress.values}
        problem = catalog[f"download.{progress.code}"][lang].format(**values)
    return {
        "progress": progress,
        "on_disk": fashion_mnist_on_disk(settings),
        "folder": str(folder),
        "files": FASHION_MNIST_FILES,
        "mirrors": list(settings.fashion_mnist_mirrors),
        "fetch_command": FETCH_COMMAND,
        "problem": problem,
        "started_by_you": progress.started_by == visitor_of(request),
        "done_mb": megabytes(progress.done),
        "total_mb": megabytes(progress.total),
    }


def status_fragment(request: Request, status_code: int = 200) -> HTMLResponse:
    context = fashion_mnist_status(request)
    headers = {}
    if context["on_disk"] and context["progress"].status == "done":
        headers["HX-Trigger"] = "fashion-mnist-ready"  # a page may enable the menu's entry on this event
    return templates.TemplateResponse(
        request, "fragments/dataset_status.html", context, status_code=status_code, headers=headers
    )


@router.get("/datasets/fashion-mnist", response_class=HTMLResponse)
async def fashion_mnist_fragment(request: Request) -> HTMLResponse:
    """Whether Fashion-MNIST is here, the download's progress, or how to get it."""
    return status_fragment(request)


@router.post("/datasets/fashion-mnist/download", response_class=HTMLResponse)
async def download_fashion_mnist(request: Request) -> HTMLResponse:
    """Start the download (202) unless the files are here or a download already runs (200)."""
    started = False
    if not fashion_mnist_on_disk(request.app.state.settings):
        started = downloader(request).start(visitor_of(request))
    return status_fragment(request, 202 if started else 200)
