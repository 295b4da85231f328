"""One language at a time, everywhere: every page, fragment and error page walked in Chinese finds no
English word outside code, numbers and proper names, and walked in English finds no Chinese.

The text read is what a visitor sees (innerText, after the page's scripts drew their charts and legends),
with code (<code>, <pre>, <kbd>), formulas (KaTeX) and the other language's link left out. Words that are
the same in both languages are listed in ALLOWED, each with why.
"""

import json
import re
import time

import httpx
import pytest

ALLOWED = {
    # names: the product, the book, libraries, datasets, file formats, devices
    "d2l", "playground", "Dive", "into", "Deep", "Learning", "PyTorch", "torch", "nn", "optim", "NumPy",
    "numpy", "scikit", "learn", "Fashion", "MNIST", "IDX", "CSV", "JSON", "API", "OpenAPI", "SSE", "cpu",
    "cuda", "mps", "GPU", "CPU", "ID", "id", "URL", "gz", "ubyte", "images", "labels", "train", "t10k",
    "digits", "blobs", "spiral", "circles", "xor", "Jupyter", "Python", "QR",
    # the models' and functions' own names, as the book writes them in both languages
    "softmax", "ReLU", "relu", "sigmoid", "tanh", "leaky_relu", "MLP", "SGD", "exp", "log", "max", "sum",
    "argmax", "grad", "zero_grad", "backward", "view", "reshape", "mm", "mul", "matmul", "sgd", "lr", "w",
    "b", "x", "y", "X", "W", "w1", "w2", "h", "o", "k", "n", "d", "q", "c", "hi", "lo", "eta", "dtype",
    "float32", "float64", "inf", "NaN", "nan", "Size", "shape", "tensor", "CrossEntropyLoss", "Linear",
    "Flatten", "Sequential", "broadcast_bug", "skip_zero_grad", "naive_softmax", "scratch", "concise",
    # Fashion-MNIST's class names are the dataset's own labels
    "T", "shirt", "top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
    "Ankle", "boot",
    # the 2-D sets' classes are named A, B, C, D on the pictures in both languages; sizes in MB
    "A", "B", "C", "D", "MB",
}  # fmt: skip
ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
CHINESE = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]")
VISIBLE_TEXT = """() => {
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll("code, pre, kbd, script, style, .katex, [lang]:not(html), .visually-hidden")
        .forEach((node) => {
            const own = node.getAttribute && node.getAttribute("lang");
            if (!own || own !== document.documentElement.lang) node.remove();
        });
    document.body.appendChild(copy);
    copy.style.position = "absolute";
    const text = copy.innerText;
    copy.remove();
    return text;
}"""


def words_left_in_english(text: str) -> set[str]:
    text = re.sub(r"https?://\S+|/[\w/.{}-]+|\b[0-9a-f]{16,}\b", " ", text)  # addresses and run ids
    text = re.sub(r"\d+x\d+|\d*\.?\d+e[-+]?\d+", " ", text)  # sizes like 28x28, numbers like 1e-3
    return {word for word in ENGLISH_WORD.findall(text) if word not in ALLOWED}


@pytest.fixture(scope="module")
def finished_runs(server):
    """One finished run of each model (and a race), trained through the API by a visitor of its own."""
    visitor = httpx.Client(base_url=server.base, timeout=60)
    specs = [
        {"model": "linreg", "epochs": 1},
        {"model": "softmax", "dataset": "blobs", "epochs": 1},
        {"model": "mlp", "dataset": "digits", "epochs": 1, "hidden_units": 16},
    ]
    ids = [visitor.post("/api/runs", json=spec).json()["id"] for spec in specs]
    wait_until_finished(visitor, ids)
    race = visitor.post(
        "/api/races", json={"base": {"model": "softmax", "dataset": "xor", "epochs": 1}, "vary": "lr",
                            "values": [0.1, 1]}
    ).json()  # fmt: skip
    wait_until_finished(visitor, [run["id"] for run in race["runs"]])
    # A class this visitor teaches and has joined (its board, its student page, its summary), with a
    # finished run, a quiz item asked and answered; and a class not joined (its join page). Their title
    # and the name are what people type, in any language: numbers here, so neither walk reads them.
    code = visitor.post("/api/classes", json={"title": "3.2", "unlocked": ["lr", "epochs"]}).json()["code"]
    visitor.post(f"/api/classes/{code}/students", json={"name": "007"})
    class_run = visitor.post(f"/api/classes/{code}/runs", json={"lr": 0.1, "epochs": 1}).json()["id"]
    wait_until_finished(visitor, [class_run])
    visitor.post(f"/classes/{code}/quiz", data={"item": "softmax-weight-shape"})
    visitor.post(f"/classes/{code}/answers", data={"item": "softmax-weight-shape", "answer": "4x3"})
    other = visitor.post("/api/classes", json={"title": "3.3"}).json()["code"]
    cookies = dict(visitor.cookies)
    visitor.close()
    return {"runs": ids, "race": race["id"], "cookies": cookies, "class": code, "other_class": other}


def wait_until_finished(visitor: httpx.Client, run_ids: list[str]) -> None:
    for run_id in run_ids:
        for _ in range(300):
            if visitor.get(f"/api/runs/{run_id}").json()["status"] not in ("queued", "running"):
                break
            time.sleep(0.2)


def walked_paths(runs: dict) -> list[str]:
    linreg, softmax, mlp = runs["runs"]
    return [
        "/",
        "/play/linreg",
        "/play/softmax",
        "/play/mlp",
        "/play/mlp?epochs=500&batch_size=0",  # the notices for a bad link
        "/runs",
        f"/runs/{linreg}",
        f"/runs/{softmax}",
        f"/runs/{mlp}",
        f"/runs/compare?ids={softmax}&ids={mlp}",
        f"/races/{runs['race']}",
        "/exercises",
        "/exercises/linreg",
        "/exercises/softmax",
        "/exercises/mlp",
        "/no/such/page",
        "/runs/0123456789abcdef",
        "/datasets/fashion-mnist",
        "/classes/new",
        f"/classes/{runs['class']}",
        f"/classes/{runs['class']}/board",
        f"/classes/{runs['class']}/summary",
        f"/classes/{runs['other_class']}",
        "/classes/join?code=223344",
    ]


def visible_text(browser, server, runs: dict, path: str, lang: str) -> str:
    context = browser.new_context(base_url=server.base, viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": k, "value": v, "url": server.base} for k, v in runs["cookies"].items()])
    page = context.new_page()
    try:
        page.goto(path + ("&" if "?" in path else "?") + f"lang={lang}")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)  # charts and legends drawn after the replay
        return page.evaluate(VISIBLE_TEXT)
    finally:
        context.close()


def test_every_page_in_chinese_has_no_english_left(browser, server, finished_runs):
    left = {}
    for path in walked_paths(finished_runs):
        words = words_left_in_english(visible_text(browser, server, finished_runs, path, "zh"))
        if words:
            left[path] = sorted(words)
    assert not left, json.dumps(left, ensure_ascii=False)


def test_every_page_in_english_has_no_chinese(browser, server, finished_runs):
    found = {}
    for path in walked_paths(finished_runs):
        text = visible_text(browser, server, finished_runs, path, "en")
        chinese = CHINESE.findall(text)
        if chinese:
            found[path] = "".join(chinese)[:80]
    assert not found, found


FRAGMENTS = [  # (method, path, form): answers htmx swaps into a page
    ("POST", "/play/mlp/runs", {"epochs": "500", "lr": "abc", "batch_size": "2.5"}),
    ("POST", "/play/softmax/runs", {"naive_softmax": "on", "impl": "concise"}),
    ("POST", "/play/linreg/race", {"race_vary": "lr", "race_values": "1"}),
    ("POST", "/play/linreg/race", {"race_vary": "lr", "race_values": "0.1 0.1"}),
]


@pytest.mark.parametrize(("method", "path", "form"), FRAGMENTS)
def test_every_refusal_fragment_in_chinese_has_no_english_left(server, method, path, form):
    answer = httpx.request(
        method, server.base + path, params={"lang": "zh"}, data=form, headers={"HX-Request": "true"}
    )
    text = re.sub(r"<code>.*?</code>|<[^>]+>", " ", answer.text)
    text = re.sub(r"&#39;[^&]*&#39;|'[^']*'", " ", text)  # the visitor's own input, quoted
    assert not words_left_in_english(text), (answer.status_code, text)
