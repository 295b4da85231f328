"""The code panel's cost: server time to render a playground page with the panel against the same page
without it, in one process.

    python bench/code_panel.py [--repeat 300] [--warmup 30]

The issue's target: the panel adds no more than 20 ms of server time to a playground page, with the
highlighting cached per (model, impl, pitfalls). The app runs in-process (Starlette's TestClient, no
lifespan: the pages do not need the training workers, so no worker competes for the CPU); a request's
time is from the client's call to its answer, so it covers routing, reading the query into a spec, the
catalog and the template, as a real request would. "Without" swaps the template global `code_panel` for
one that draws nothing, so both pages are the same route and template otherwise. With and without
alternate request by request (drift over minutes hits both alike); the median of each is the figure.
It also times the cold render of one panel body (the first visitor after a start, highlighting included)
and the htmx fragment GET /code-panel that switching scratch/concise asks for.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from fastapi.testclient import TestClient  # noqa: E402
from markupsafe import Markup  # noqa: E402

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.web import code_panel  # noqa: E402
from app.web.templating import templates  # noqa: E402

PAGES = [
    "/play/linreg",
    "/play/linreg?impl=concise&broadcast_bug=on",
    "/play/softmax?dataset=digits",
    "/play/softmax?dataset=blobs&naive_softmax=on&skip_zero_grad=on",
    "/play/mlp?dataset=spiral",
    "/play/mlp?impl=concise&lang=zh",
]


def no_panel(*args, **kwargs) -> Markup:
    return Markup("")


def timed(client: TestClient, path: str) -> float:
    start = time.perf_counter()
    answer = client.get(path)
    seconds = time.perf_counter() - start
    assert answer.status_code == 200, (path, answer.status_code)
    return seconds


def page_costs(client: TestClient, path: str, repeat: int, warmup: int) -> tuple[list[float], list[float]]:
    """(seconds with the panel, seconds without), alternating, after `warmup` of each."""
    with_panel, without = [], []
    for i in range(warmup + repeat):
        for panel, times in ((code_panel.code_panel, with_panel), (no_panel, without)):
            templates.env.globals["code_panel"] = panel
            seconds = timed(client, path)
            if i >= warmup:
                times.append(seconds)
    templates.env.globals["code_panel"] = code_panel.code_panel
    return with_panel, without


def cold_bodies() -> list[tuple[str, float]]:
    """Seconds to render each (model, impl) body with an empty cache: the cost once per server start."""
    costs = []
    for model, impl in code_panel.code.SECTIONS:
        code_panel.panel_body.cache_clear()
        start = time.perf_counter()
        code_panel.panel_body(model, impl, (), "en")
        costs.append((f"{model} {impl}", time.perf_counter() - start))
    return costs


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    cold = cold_bodies()
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-code-panel-")))
    client = TestClient(create_app(settings))  # no `with`: no lifespan, no workers
    print(
        "page | with panel, median ms | without, median ms | extra ms | ratio | with p90 | bytes with/without"
    )
    worst = 0.0
    for path in PAGES:
        with_panel, without = page_costs(client, path, args.repeat, args.warmup)
        on, off = statistics.median(with_panel), statistics.median(without)
        worst = max(worst, on - off)
        p90 = statistics.quantiles(with_panel, n=10)[-1]
        templates.env.globals["code_panel"] = no_panel
        small = len(client.get(path).content)
        templates.env.globals["code_panel"] = code_panel.code_panel
        big = len(client.get(path).content)
        print(f"{path} | {ms(on)} | {ms(off)} | {ms(on - off)} | {on / off:.2f} | {ms(p90)} | {big}/{small}")
    fragment = [timed(client, "/code-panel?model=mlp&impl=concise") for _ in range(args.repeat)]
    print(f"GET /code-panel (cached body), median ms: {ms(statistics.median(fragment))}")
    print("cold body (first render after a start), ms: " + ", ".join(f"{n} {ms(s)}" for n, s in cold))
    print(f"largest extra: {ms(worst)} ms (target <= 20 ms): {'met' if worst <= 0.020 else 'NOT met'}")


if __name__ == "__main__":
    main()
