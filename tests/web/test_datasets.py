"""The dataset menu shows what is on disk, and Fashion-MNIST downloads from the page: against a real HTTP
mirror on 127.0.0.1 serving IDX files made here, through the real child process the web starts."""

import hashlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import get_args

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.training.data import fashion_mnist
from app.training.specs import ClassificationDataset
from app.web.datasets import FASHION_MNIST_FILES, FashionMnistDownload, dataset_choices
from app.web.i18n import messages
from tests.server import running_server
from tests.training.test_fashion_mnist_download import write_fashion_files

FOLDED_PROBLEM = (  # the sentence, then the detail's title and text
    r'id="fashion-mnist-problem">(.*?)<details><summary>(.*?)</summary><pre[^>]*><code>(.*?)</code>'
)
PROGRESS = re.compile(r'<progress id="fashion-mnist-progress" max="100" value="(\d+)"')


@contextmanager
def mirror(files: dict[str, bytes], chunk: int = 32_768, pause: float = 0.01) -> Iterator[dict]:
    """An HTTP server on 127.0.0.1 serving `files` under /m/, slowly enough that a page polling it sees the
    download move; yields its base URL and the paths asked for."""
    state = {"requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state["requests"].append(self.path)
            body = files.get(self.path.removeprefix("/m/"))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for start in range(0, len(body), chunk):
                self.wfile.write(body[start : start + chunk])
                time.sleep(pause)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/m/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def client_for(tmp_path, mirrors: list[str], checksums: dict | None = None, lang: str = "en") -> TestClient:
    """The app on these settings, with a route that answers dataset_choices as JSON."""
    settings = Settings(data_dir=tmp_path / "data", fashion_mnist_mirrors=mirrors, download_timeout_s=5)
    app = create_app(settings)
    app.state.fashion_mnist_download = FashionMnistDownload(settings, checksums)

    @app.get("/test/choices")
    async def choices(request: Request):
        return {choice["name"]: choice for choice in dataset_choices(request)}

    return TestClient(app, headers={"Accept-Language": "zh-CN" if lang == "zh" else "en-US"})


def served_files(tmp_path) -> tuple[dict[str, bytes], dict[str, str]]:
    """Fashion-MNIST-format files (1,500 training images: about 1.2 MB) and their MD5s."""
    write_fashion_files(tmp_path / "served", n_train=1500, n_test=100)
    files = {name: (tmp_path / "served" / name).read_bytes() for name in FASHION_MNIST_FILES}
    return files, {name: hashlib.md5(body).hexdigest() for name, body in files.items()}


def wait_until_settled(client: TestClient, timeout: float = 60) -> tuple[str, list[int]]:
    """Poll the fragment as the page does (faster) until it stops asking again; its last text and every
    progress value seen on the way."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = client.get("/datasets/fashion-mnist").text
        seen += [int(value) for value in PROGRESS.findall(text)]
        if 'hx-trigger="every 1s"' not in text:
            return text, seen
        time.sleep(0.05)
    raise TimeoutError("the download did not end")


def say(key: str, lang: str, **values) -> str:
    return str(messages()[key][lang].format(**values)).replace("'", "&#39;")


def test_the_web_names_the_files_the_training_core_needs():
    assert tuple(fashion_mnist.FILES) == FASHION_MNIST_FILES


def test_absent_fashion_mnist_is_offered_for_download(tmp_path):
    client = client_for(tmp_path, [closed_port()])
    choices = client.get("/test/choices").json()
    assert choices["fashion-mnist"] | {"label": ""} == {
        "name": "fashion-mnist",
        "label": "",
        "on_disk": False,
        "downloadable": True,
    }
    assert choices["digits"]["on_disk"] and not choices["digits"]["downloadable"]
    assert list(choices) == list(get_args(ClassificationDataset))  # every value a spec takes, in order
    assert choices["digits"]["label"] == messages()["dataset.digits"]["en"]
    fragment = client.get("/datasets/fashion-mnist").text
    assert 'id="fashion-mnist-download"' in fragment
    assert 'hx-post="/datasets/fashion-mnist/download"' in fragment
    assert str(tmp_path / "data" / "fashion-mnist") in fragment
    assert all(f"<code>{name}</code>" in fragment for name in FASHION_MNIST_FILES)
    assert "every 1s" not in fragment and "<progress" not in fragment


def test_without_mirrors_only_the_way_by_hand_is_offered(tmp_path):
    client = client_for(tmp_path, [], lang="zh")
    assert not client.get("/test/choices").json()["fashion-mnist"]["downloadable"]
    fragment = client.get("/datasets/fashion-mnist").text
    assert 'id="fashion-mnist-download"' not in fragment
    assert '<details id="fashion-mnist-by-hand" open>' in fragment
    assert say("datasets.fmnist.by_hand.files", "zh") in fragment
    assert client.post("/datasets/fashion-mnist/download").status_code == 202  # pressed anyway: it says why
    text, _ = wait_until_settled(client)
    assert say("download.no_mirrors", "zh") in text


def test_download_shows_progress_to_100_percent_then_the_files_are_on_disk(tmp_path):
    files, checksums = served_files(tmp_path)
    with mirror(files) as served:
        client = client_for(tmp_path, [served["url"]], checksums)
        started = client.post("/datasets/fashion-mnist/download")
        assert started.status_code == 202 and 'hx-trigger="every 1s"' in started.text
        assert say("datasets.fmnist.started_by_you", "en") in started.text
        other_visitor = TestClient(client.app)  # no cookie yet: another visitor
        again = other_visitor.post("/datasets/fashion-mnist/download")  # one download at a time
        assert again.status_code == 200 and 'hx-trigger="every 1s"' in again.text
        assert say("datasets.fmnist.started_by_other", "en") in again.text
        text, seen = wait_until_settled(client)
    assert seen == sorted(seen) and seen[-1] == 100
    assert any(0 < value < 100 for value in seen), seen  # it moved while the page watched
    assert say("datasets.fmnist.ready", "en") in text
    assert sorted(served["requests"]) == sorted(f"/m/{name}" for name in FASHION_MNIST_FILES)  # once each
    folder = tmp_path / "data" / "fashion-mnist"
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == files
    choice = client.get("/test/choices").json()["fashion-mnist"]
    assert choice["on_disk"] and not choice["downloadable"]
    assert client.post("/datasets/fashion-mnist/download").status_code == 200  # nothing left to fetch
    assert client.get("/datasets/fashion-mnist").headers["hx-trigger"] == "fashion-mnist-ready"
    fresh = client_for(tmp_path, [served["url"]], checksums)  # a restarted server: the files are just there
    assert say("datasets.fmnist.present", "en") in fresh.get("/datasets/fashion-mnist").text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_unreachable_mirror_is_explained_in_the_visitors_language(tmp_path, lang):
    unreachable = closed_port()
    client = client_for(tmp_path, [unreachable], lang=lang)
    assert client.post("/datasets/fashion-mnist/download").status_code == 202
    text, _ = wait_until_settled(client)
    folder = str(tmp_path / "data" / "fashion-mnist")
    sentence = say("download.offline", lang, filename="train-images-idx3-ubyte.gz", folder=folder)
    assert sentence in text
    other = "en" if lang == "zh" else "zh"
    assert say("download.offline", other, filename="train-images-idx3-ubyte.gz") not in text
    problem = re.search(FOLDED_PROBLEM, text, re.S)
    said, folded_title, folded = problem.groups()
    assert sentence in said and unreachable not in said and "cannot connect" not in said
    assert folded_title == say("errorpage.detail", lang)
    assert unreachable in folded and "cannot connect" in folded  # the technical English, folded away
    assert '<details id="fashion-mnist-by-hand" open>' in text and folder in text
    assert 'id="fashion-mnist-download"' in text  # it may be tried again
    assert not client.get("/test/choices").json()["fashion-mnist"]["on_disk"]


def test_files_that_are_not_the_expected_ones_are_refused_in_words(tmp_path):
    files, _ = served_files(tmp_path)
    with mirror(files) as served:  # the official checksums: these files do not match them
        client = client_for(tmp_path, [served["url"]], lang="zh")
        client.post("/datasets/fashion-mnist/download")
        text, _ = wait_until_settled(client)
    assert say("download.failed", "zh", filename="train-images-idx3-ubyte.gz") in text
    assert "checksum mismatch" in text
    assert list((tmp_path / "data" / "fashion-mnist").iterdir()) == []


def test_a_download_leaves_the_web_process_without_torch(tmp_path):
    """The download imports the training core (and so torch) in a child process, never in the server."""
    with running_server(tmp_path, workers=1, worker_threads=1) as live:  # its mirror: a closed port
        client = live.client
        assert client.post("/datasets/fashion-mnist/download").status_code == 202
        text, _ = wait_until_settled(client)
        assert say("download.offline", "en", filename="train-images-idx3-ubyte.gz") in text
        with open(f"/proc/{live.process.pid}/maps") as maps:
            assert "libtorch" not in maps.read()
