"""Downloading and loading Fashion-MNIST, against a real HTTP server on 127.0.0.1 serving test files."""

import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch

from app.settings import Settings
from app.training.data import fashion_mnist
from app.training.data.dataset import DatasetUnavailable
from app.training.data.download import DownloadError, fetch_file, md5_of
from app.training.data.idx import write_idx

NAME = "train-images-idx3-ubyte.gz"


@dataclass
class Reply:
    body: bytes
    content_length: int | None = None  # announce more than the body holds to cut the transfer short


@dataclass
class Server:
    url: str
    replies: dict[str, Reply] = field(default_factory=dict)  # request path -> reply; anything else is 404
    requests: list[str] = field(default_factory=list)

    def serve(self, path: str, body: bytes, content_length: int | None = None) -> None:
        self.replies[path] = Reply(body, content_length)


@pytest.fixture
def server():
    state = Server(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.requests.append(self.path)
            reply = state.replies.get(self.path)
            if reply is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(reply.content_length or len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def payload(n: int = 200_000, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def write_fashion_files(where, n_train=50, n_test=20, seed=0):
    """Small Fashion-MNIST-format files; returns the arrays written."""
    rng = np.random.default_rng(seed)
    where.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images_name, labels_name = fashion_mnist.SPLITS[split]
        arrays[images_name] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[labels_name] = rng.integers(0, 10, n, dtype=np.uint8)
    for name, array in arrays.items():
        write_idx(where / name, array)
    return arrays


def local_settings(tmp_path, server, **overrides):
    return Settings(
        data_dir=tmp_path / "data",
        fashion_mnist_mirrors=[server.url + "/m/"],
        download_timeout_s=5,
        **overrides,
    )


# ---------------------------------------------------------------------------------------------------
# fetch_file


def test_a_good_file_is_verified_and_saved(tmp_path, server):
    body = payload()
    server.serve(f"/m/{NAME}", body)
    path = fetch_file(NAME, md5(body), [server.url + "/m/"], tmp_path, timeout=5)
    assert path == tmp_path / NAME
    assert path.read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]
    assert md5_of(path) == md5(body)


def test_a_checksum_mismatch_leaves_no_file_at_all(tmp_path, server):
    body, expected = payload(), "0" * 32
    server.serve(f"/m/{NAME}", body)
    with pytest.raises(DownloadError) as caught:
        fetch_file(NAME, expected, [server.url + "/m/"], tmp_path, timeout=5)
    message = str(caught.value)
    assert "checksum" in message and expected in message and md5(body) in message
    assert "discarded" in message
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_transfer_leaves_no_file(tmp_path, server):
    body = payload()
    server.serve(f"/m/{NAME}", body[:50_000], content_length=len(body))
    with pytest.raises(DownloadError, match=f"50000 of {len(body)} bytes"):
        fetch_file(NAME, md5(body), [server.url + "/m/"], tmp_path, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_on_the_first_mirror_falls_through_to_the_second(tmp_path, server):
    body = payload()
    server.serve(f"/second/{NAME}", body)
    mirrors = [server.url + "/first/", server.url + "/second"]  # the second has no trailing slash
    path = fetch_file(NAME, md5(body), mirrors, tmp_path, timeout=5)
    assert path.read_bytes() == body
    assert server.requests == [f"/first/{NAME}", f"/second/{NAME}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]


def test_when_every_mirror_fails_the_error_lists_them_and_names_dest_dir(tmp_path, server):
    body = payload()
    server.serve(f"/wrong/{NAME}", b"not the file")
    mirrors = [server.url + "/missing/", server.url + "/wrong/"]
    with pytest.raises(DownloadError) as caught:
        fetch_file(NAME, md5(body), mirrors, tmp_path, timeout=5)
    message = str(caught.value)
    assert f"{server.url}/missing/{NAME}: HTTP 404" in message
    assert "checksum mismatch" in message
    assert str(tmp_path) in message
    assert isinstance(caught.value, DatasetUnavailable)
    assert list(tmp_path.iterdir()) == []


def test_progress_grows_to_the_total(tmp_path, server):
    body = payload(300_000)
    server.serve(f"/m/{NAME}", body)
    calls = []
    fetch_file(
        NAME, md5(body), [server.url + "/m/"], tmp_path, timeout=5, on_progress=lambda *a: calls.append(a)
    )
    assert len(calls) > 1
    assert {(name, total) for name, _, total in calls} == {(NAME, len(body))}
    done = [d for _, d, _ in calls]
    assert done == sorted(set(done)) and done[-1] == len(body)


def test_an_interrupt_mid_transfer_leaves_no_partial_file(tmp_path, server):
    body = payload()
    server.serve(f"/m/{NAME}", body)

    def interrupt(*_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_file(NAME, md5(body), [server.url + "/m/"], tmp_path, timeout=5, on_progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_a_file_already_in_place_is_not_downloaded_again(tmp_path, server):
    body = payload()
    (tmp_path / NAME).write_bytes(body)
    assert fetch_file(NAME, md5(body), [server.url + "/m/"], tmp_path, timeout=5) == tmp_path / NAME
    assert server.requests == []


# ---------------------------------------------------------------------------------------------------
# fashion_mnist.fetch and load


def test_fetch_refuses_files_that_are_not_the_official_ones(tmp_path, server):
    for name in fashion_mnist.FILES:
        server.serve(f"/m/{name}", payload(1000))
    settings = local_settings(tmp_path, server)
    with pytest.raises(DownloadError) as caught:
        fashion_mnist.fetch(settings)
    message = str(caught.value)
    assert "checksum" in message and fashion_mnist.FILES[NAME] in message
    assert str(fashion_mnist.folder(settings.data_dir)) in message
    assert list(fashion_mnist.folder(settings.data_dir).iterdir()) == []


def test_fetch_then_load_gives_back_the_served_files(tmp_path, server):
    arrays = write_fashion_files(tmp_path / "served")
    checksums = {}
    for name in fashion_mnist.FILES:
        body = (tmp_path / "served" / name).read_bytes()
        server.serve(f"/m/{name}", body)
        checksums[name] = md5(body)
    settings = local_settings(tmp_path, server)
    target = fashion_mnist.fetch(settings, checksums=checksums)
    assert target == fashion_mnist.folder(settings.data_dir)
    assert fashion_mnist.is_on_disk(settings.data_dir)
    data = fashion_mnist.load(settings.data_dir)
    expected = torch.from_numpy(arrays["train-images-idx3-ubyte.gz"]).float().unsqueeze(1) / 255
    assert torch.equal(data.X_train, expected)


def test_load_returns_exactly_the_pixels_and_labels_written(tmp_path):
    arrays = write_fashion_files(fashion_mnist.folder(tmp_path), n_train=50, n_test=20)
    data = fashion_mnist.load(tmp_path)
    assert (data.name, data.task, data.image_shape) == ("fashion-mnist", "classification", (28, 28))
    assert data.class_names == fashion_mnist.CLASS_NAMES and len(data.class_names) == 10
    for X, y, split in ((data.X_train, data.y_train, "train"), (data.X_test, data.y_test, "test")):
        images_name, labels_name = fashion_mnist.SPLITS[split]
        n = len(arrays[labels_name])
        assert X.dtype == torch.float32 and X.shape == (n, 1, 28, 28)
        assert y.dtype == torch.int64 and y.shape == (n,)
        np.testing.assert_array_equal(X.squeeze(1).numpy(), arrays[images_name] / np.float32(255))
        np.testing.assert_array_equal(y.numpy(), arrays[labels_name])
    assert data.X_train.min() >= 0 and data.X_train.max() <= 1


def test_load_refuses_images_and_labels_that_disagree(tmp_path):
    write_fashion_files(fashion_mnist.folder(tmp_path))
    write_idx(fashion_mnist.folder(tmp_path) / "t10k-labels-idx1-ubyte.gz", np.zeros(19, dtype=np.uint8))
    with pytest.raises(ValueError, match="20 images.*19 labels"):
        fashion_mnist.load(tmp_path)


def test_load_without_download_says_where_the_files_go(tmp_path):
    with pytest.raises(DatasetUnavailable) as caught:
        fashion_mnist.load(tmp_path, download=False)
    message = str(caught.value)
    assert str(tmp_path / "fashion-mnist") in message
    assert "d2l-playground data fetch fashion-mnist" in message
    assert all(name in message for name in fashion_mnist.FILES)
    assert not fashion_mnist.is_on_disk(tmp_path)


def test_load_with_download_uses_the_given_settings_mirrors(tmp_path, server):
    for name in fashion_mnist.FILES:
        server.serve(f"/m/{name}", payload(1000))
    settings = local_settings(tmp_path, server)
    with pytest.raises(DatasetUnavailable, match="checksum"):
        fashion_mnist.load(tmp_path / "elsewhere", download=True, settings=settings)
    assert server.requests == [f"/m/{NAME}"]
    assert list((tmp_path / "elsewhere" / "fashion-mnist").iterdir()) == []


# ---------------------------------------------------------------------------------------------------
# error codes (the web says them in the visitor's language) and the report the web's child process writes


def closed_port() -> str:
    """A base URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def test_no_mirror_reachable_is_offline(tmp_path):
    with pytest.raises(DownloadError) as caught:
        fetch_file(NAME, "0" * 32, [closed_port(), closed_port()], tmp_path, timeout=5)
    assert caught.value.code == "offline"
    assert caught.value.values == {"filename": NAME, "folder": str(tmp_path)}
    assert "cannot connect" in str(caught.value)


def test_a_mirror_that_answers_wrongly_is_failed_not_offline(tmp_path, server):
    mirrors = [closed_port(), server.url + "/missing/"]  # one unreachable, one answering 404
    with pytest.raises(DownloadError) as caught:
        fetch_file(NAME, "0" * 32, mirrors, tmp_path, timeout=5)
    assert caught.value.code == "failed" and caught.value.values["filename"] == NAME


def test_a_checksum_mismatch_is_failed(tmp_path, server):
    server.serve(f"/m/{NAME}", payload())
    with pytest.raises(DownloadError) as caught:
        fetch_file(NAME, "0" * 32, [server.url + "/m/"], tmp_path, timeout=5)
    assert caught.value.code == "failed"


def test_no_mirrors_at_all(tmp_path):
    with pytest.raises(DownloadError) as caught:
        fetch_file(NAME, "0" * 32, [], tmp_path, timeout=5)
    assert caught.value.code == "no_mirrors" and "no mirrors are configured" in str(caught.value)


def test_fetch_keeps_the_code_and_values_of_the_file_that_failed(tmp_path):
    settings = Settings(data_dir=tmp_path, fashion_mnist_mirrors=[closed_port()], download_timeout_s=5)
    with pytest.raises(DownloadError) as caught:
        fashion_mnist.fetch(settings)
    assert caught.value.code == "offline"
    assert caught.value.values == {"filename": NAME, "folder": str(fashion_mnist.folder(tmp_path))}
    assert "PLAYGROUND_FASHION_MNIST_MIRRORS" in str(caught.value)


def report_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_fetch_reporting_writes_progress_then_done(tmp_path, server, data_dir, monkeypatch, capsys):
    write_fashion_files(tmp_path / "served", n_train=300)
    checksums = {}
    for name in fashion_mnist.FILES:
        body = (tmp_path / "served" / name).read_bytes()
        server.serve(f"/m/{name}", body)
        checksums[name] = md5(body)
    monkeypatch.setenv("PLAYGROUND_FASHION_MNIST_MIRRORS", json.dumps([server.url + "/m/"]))
    assert fashion_mnist.fetch_reporting(json.dumps(checksums)) == 0
    events = report_lines(capsys)
    assert events[-1] == {"type": "done", "folder": str(fashion_mnist.folder(data_dir))}
    progress = events[:-1]
    assert {event["type"] for event in progress} == {"progress"}
    assert [event["number"] for event in progress] == sorted(event["number"] for event in progress)
    assert {event["file"]: event["number"] for event in progress} == {
        name: number for number, name in enumerate(fashion_mnist.FILES, start=1)
    }
    assert all(event["count"] == 4 and event["done"] <= event["total"] for event in progress)
    assert fashion_mnist.is_on_disk(data_dir)


def test_fetch_reporting_says_how_it_failed(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("PLAYGROUND_FASHION_MNIST_MIRRORS", json.dumps([closed_port()]))
    assert fashion_mnist.fetch_reporting() == 1
    (event,) = report_lines(capsys)
    assert event["type"] == "failed" and event["code"] == "offline"
    assert event["values"]["filename"] == NAME and "cannot connect" in event["message"]


def test_fetch_reporting_on_a_folder_it_cannot_write(data_dir, monkeypatch, capsys):
    (data_dir / "fashion-mnist").write_text("a file where the folder should be")
    assert fashion_mnist.fetch_reporting() == 1
    (event,) = report_lines(capsys)
    assert event["type"] == "failed" and event["code"] == "cannot_write"
    assert event["values"] == {"folder": str(data_dir / "fashion-mnist")}
