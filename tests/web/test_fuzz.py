"""A property-based fuzz of the OpenAPI description: no 5xx, and no response that breaks its schema.

A real server (uvicorn in a subprocess on 127.0.0.1, one training worker) serves `/openapi.json`;
schemathesis turns each operation in it into a Hypothesis strategy of requests, and every generated case
is sent to that server, and nowhere else, through one `requests` session.

Bounded and repeatable:
- every operation gets an even share of `TOTAL_CASES` (at least 1000 in all, asserted; what an operation
  without inputs cannot use passes on to the others), from positive (inputs the schema allows) and
  negative (inputs it forbids) strategies alike, plus a few explicit cases: ids which exist (a finished
  run, a finished race, the three playground names), so the success paths are fuzzed too and not only
  the 404s of random ids, and bodies with NaN or Infinity, which are not JSON and so never generated,
  yet which Python's JSON parser (so FastAPI) accepts;
- Hypothesis runs `derandomize=True` (the same cases on every run and machine), `deadline=None`,
  `database=None`, and only the explicit and generate phases: nothing is reused from earlier runs and
  nothing is shrunk; instead of stopping at the first failure every case runs, and each distinct
  failure (operation, check, status) is kept with its first reproduction (a curl line) and, for a 5xx,
  the traceback the server logged for it;
- every request has a 3 s timeout (a request that gets no answer in time is a failure too); the test
  as a whole is capped by `pytest.mark.timeout` (it takes about 40 s of fuzzing after the server starts).

Checks: `not_a_server_error` and `response_schema_conformance`, exactly what the property promises.
`status_code_conformance` is left out on purpose: FastAPI documents only 200/201/202 and 422 for each
route, while the API answers 404 (no such run), 429 (queue or visitor limit) and 503 (backend down) by
design; a response whose status the description does not list has no schema to break, and the check
would only restate that the description is terse. `content_type_conformance` is left out for the same
reason (FastAPI documents the event streams as application/json).

Runs cost real training: the server gets `queue_limit=2` and the fuzz sends everything as one visitor
(the session keeps the visitor cookie, so the per-visitor limit applies), and every run or race the fuzz
manages to create is cancelled at once (as the admin, through a separate client), so the worker never
trains a fuzzed spec for long. The finished run and race whose ids the explicit cases carry are made by
the same visitor first, so DELETE reaches its success path as well.

The event streams (`/api/runs/{id}/events`, `/api/races/{id}/events`) are fuzzed like everything else:
random ids answer 404 at once, and a finished run's or race's stream replays and closes; schemathesis
reads a text/event-stream response for at most the request timeout (3 s) in total, so a stream that
stays open cannot hang the fuzz.
"""

import re
import time
from collections import Counter

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup

from tests.server import running_server

TOTAL_CASES = 1200  # shared evenly between the operations; the property asks for at least 1000
TIMEOUT_S = 3.0
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance]
SEED_RUN = {"model": "linreg", "epochs": 1, "n_examples": 200, "seed": 3}
SEED_RACE = {"base": SEED_RUN, "vary": "lr", "values": [0.01, 0.1]}
MODEL_KEYS = ["linreg", "softmax", "mlp"]
ADMIN_TOKEN = "fuzz-admin-token"  # only to cancel what the fuzz created; the fuzz itself is a plain visitor
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# Bodies schemathesis cannot make, since they are not JSON, yet Python's parser (and so FastAPI) takes them
NOT_QUITE_JSON = {
    "/api/runs": [
        b"NaN",
        b"[NaN]",
        b'{"model": "linreg", "lr": NaN}',
        b'{"model": "mlp", "epochs": Infinity}',
    ],
    "/api/races": [
        b'{"base": NaN, "vary": "lr", "values": [0.1, 1]}',
        b'{"base": {"model": "linreg"}, "vary": NaN, "values": [0.1, 1]}',
        b'{"base": {"model": "linreg"}, "vary": "lr", "values": [NaN, -Infinity]}',
    ],
}

pytestmark = pytest.mark.timeout(240)


def wait_finished(client: httpx.Client, run_ids: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(client.get(f"/api/runs/{i}").json()["status"] not in ("queued", "running") for i in run_ids):
            return
        time.sleep(0.2)
    raise TimeoutError("the seed runs did not finish")


def traceback_since(log_path, offset: int) -> str:
    """The frames (file, line, function) and the error of the last traceback logged after `offset`."""
    time.sleep(0.2)  # let the server's log line reach the file
    with open(log_path, "rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    start = text.rfind("Traceback (most recent call last)")
    if start < 0:
        return text[-1000:]
    lines = text[start:].splitlines()
    frames = [line.strip() for line in lines if line.lstrip().startswith('File "')]
    error = next((line for line in reversed(lines) if line and not line.startswith((" ", "INFO"))), "")
    return "\n".join([*frames[-8:], error])


class Fuzz:
    """Sends cases, runs the checks, and keeps the first example of each distinct failure."""

    def __init__(self, server):
        self.server = server
        self.session = requests.Session()
        self.cases: Counter[str] = Counter()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.failures: dict[tuple, dict] = {}
        self.log_path = server.data_dir / "server.log"

    def run(self, case) -> None:
        label = case.operation.label
        self.cases[label] += 1
        offset = self.log_path.stat().st_size
        try:
            response = case.call(
                base_url=self.server.base,
                session=self.session,
                timeout=TIMEOUT_S,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            self.keep((label, "no response", type(error).__name__), case, None, repr(error)[:300], offset)
            if self.server.process.poll() is not None:
                pytest.fail(f"the server died during {label}: {case.as_curl_command()}")
            return
        self.statuses[(label, response.status_code)] += 1
        self.cancel_created(label, response)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = (label, failure.title, response.status_code)
                message = getattr(failure, "validation_message", "") or failure.message
                self.keep(key, case, response, message, offset)

    def keep(self, key, case, response, message: str, offset: int) -> None:
        if key in self.failures:
            self.failures[key]["count"] += 1
            return
        status = response.status_code if response is not None else None
        self.failures[key] = {
            "count": 1,
            "curl": case.as_curl_command(),
            "status": status,
            "message": message[:500],
            "body": response.text[:300] if response is not None else "",
            "traceback": traceback_since(self.log_path, offset) if status is None or status >= 500 else "",
        }

    def cancel_created(self, label: str, response) -> None:
        """A run or race the fuzz managed to create is cancelled at once: fuzzed specs must not train."""
        if response.status_code != 201:
            return
        try:
            body = response.json()
        except ValueError:
            return  # response_schema_conformance reports a 201 that is not JSON
        run_ids = [body["id"]] if label == "POST /api/runs" else [r["id"] for r in body.get("runs", [])]
        for run_id in run_ids:
            self.server.client.delete(f"/api/runs/{run_id}", headers=ADMIN, timeout=TIMEOUT_S)

    def report(self) -> str:
        lines = [f"{len(self.failures)} distinct failures in {sum(self.cases.values())} cases:"]
        for (label, title, *_), seen in sorted(self.failures.items(), key=lambda item: str(item[0])):
            lines += [
                "",
                f"== {label}: {title} (status {seen['status']}, {seen['count']} cases)",
                f"   {seen['curl']}",
                f"   {seen['message']}",
            ]
            if seen["body"]:
                lines.append(f"   body: {seen['body']}")
            if seen["traceback"]:
                lines.append("   server log:\n" + re.sub(r"(?m)^", "     ", seen["traceback"]))
        return "\n".join(lines)


def inputs_and_label(operation) -> tuple[int, str]:
    places = [
        operation.path_parameters,
        operation.query,
        operation.headers,
        operation.cookies,
        operation.body,
    ]
    return sum(len(list(place)) for place in places), operation.label


def path_names(operation) -> list[str]:
    return [parameter.name for parameter in operation.path_parameters]


def explicit_cases(operation, run_id: str, race_id: str) -> list:
    """Cases that name things that exist or specs that are valid, so the fuzz reaches the success paths."""
    params = path_names(operation)
    if operation.method.upper() == "POST" and operation.path in NOT_QUITE_JSON:
        valid = SEED_RUN if operation.path == "/api/runs" else SEED_RACE
        bodies = [valid, *NOT_QUITE_JSON[operation.path]]
        return [operation.Case(body=body, media_type="application/json") for body in bodies]
    if "run_id" in params:
        return [operation.Case(path_parameters={"run_id": run_id})]
    if "race_id" in params:
        return [operation.Case(path_parameters={"race_id": race_id})]
    if "model_key" in params:
        return [operation.Case(path_parameters={"model_key": key}) for key in MODEL_KEYS]
    return []


def strategy_of(operation, run_id: str, race_id: str):
    """Positive and negative inputs; path ids and playground names sometimes fixed to ones that exist."""
    branches = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    params = path_names(operation)
    for name, value in (("run_id", run_id), ("race_id", race_id)):
        if name in params:
            branches.append(
                operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters={name: value})
            )
    if "model_key" in params:
        branches += [
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters={"model_key": key})
            for key in MODEL_KEYS
        ]
    return st.one_of(branches)


def test_openapi_fuzz_finds_no_server_error_and_no_response_off_its_schema(tmp_path):
    with running_server(
        tmp_path, workers=1, worker_threads=1, queue_limit=2, admin_token=ADMIN_TOKEN
    ) as server:
        server.wait_ready_workers(1)
        fuzz = Fuzz(server)
        run_id = fuzz.session.post(f"{server.base}/api/runs", json=SEED_RUN, timeout=30).json()["id"]
        race = fuzz.session.post(f"{server.base}/api/races", json=SEED_RACE, timeout=30).json()
        wait_finished(server.client, [run_id] + [r["id"] for r in race["runs"]])

        schema = schemathesis.openapi.from_url(f"{server.base}/openapi.json", timeout=10)
        # The fewest inputs first: one without any is exhausted after a case or two and leaves its share
        operations = sorted((result.ok() for result in schema.get_all_operations()), key=inputs_and_label)
        started = time.monotonic()
        for done, operation in enumerate(operations):
            per_operation = -(-(TOTAL_CASES - sum(fuzz.cases.values())) // (len(operations) - done))

            @settings(
                max_examples=per_operation,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy_of(operation, run_id, race["id"]))
            def fuzz_one(case):
                fuzz.run(case)

            for case in explicit_cases(operation, run_id, race["id"]):
                fuzz_one = example(case=case)(fuzz_one)
            fuzz_one()
        elapsed = time.monotonic() - started

    labels = {operation.label for operation in operations}
    print(f"\n{sum(fuzz.cases.values())} cases over {len(labels)} operations in {elapsed:.0f} s")
    for label in sorted(labels):
        codes = {code: n for (lab, code), n in sorted(fuzz.statuses.items()) if lab == label}
        print(f"  {label}: {fuzz.cases[label]} cases, statuses {codes}")
    assert set(fuzz.cases) == labels, "every operation of the description is fuzzed"
    assert sum(fuzz.cases.values()) >= 1000
    assert not fuzz.failures, fuzz.report()
