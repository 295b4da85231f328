"""A server a whole class shares: runs have owners, fit a budget, take turns, and stop when asked."""

import re
import time

import httpx
import pytest

from tests.server import running_server, wait_status

LONG_RUN = {"model": "mlp", "dataset": "digits", "batch_size": 16, "epochs": 8, "hidden_units": 128}
TWENTY_DAYS = {
    "model": "mlp",
    "hidden_units": 4096,
    "hidden_layers": 3,
    "dataset": "spiral",
    "n_examples": 100_000,
    "batch_size": 1,
    "epochs": 200,
}
FOUR_HUNDRED_THOUSAND_EVENTS = {
    "model": "linreg",
    "true_w": [1.0] * 16,
    "n_examples": 10_000,
    "batch_size": 8,
    "epochs": 200,
    "step_events_per_epoch": 1000,
}
HUGE_STEP = {"model": "mlp", "hidden_units": 4096, "hidden_layers": 3, "batch_size": 8192, "epochs": 1}
ADMIN_TOKEN = "teacher-secret-token"
FINISHED = {"done", "cancelled", "diverged", "failed", "interrupted"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One worker, the default per-visitor limit (3), and an admin."""
    data_dir = tmp_path_factory.mktemp("shared")
    with running_server(data_dir, workers=1, worker_threads=1, admin_token=ADMIN_TOKEN) as live:
        live.wait_ready_workers(1)
        yield live


def visitor(server, **headers) -> httpx.Client:
    """A browser of its own: its own cookie jar, so its own identity."""
    return httpx.Client(base_url=server.base, timeout=30, headers=headers)


def cancel_all(client) -> None:
    for run in client.get("/api/runs").json():
        if run["status"] not in FINISHED:
            client.delete(f"/api/runs/{run['id']}")
    for run in client.get("/api/runs").json():
        wait_status(client, run["id"], FINISHED)


def test_only_the_owner_or_the_admin_may_cancel_and_list_a_run(shared):
    alice, bob = visitor(shared), visitor(shared)
    admin = visitor(shared, Authorization=f"Bearer {ADMIN_TOKEN}")
    run = alice.post("/api/runs", json=LONG_RUN).json()
    assert re.fullmatch(r"[0-9a-f]{32}", run["id"]), "ids carry 128 random bits"
    assert run["yours"] is True and bob.get(f"/api/runs/{run['id']}").json()["yours"] is False
    refused = bob.delete(f"/api/runs/{run['id']}")
    assert refused.status_code == 403 and run["id"] in refused.json()["detail"]
    assert bob.post(f"/play/runs/{run['id']}/cancel").status_code == 403
    assert bob.get(f"/runs/{run['id']}").status_code == 200, "anyone may still watch it by its link"
    assert run["id"] not in {r["id"] for r in bob.get("/api/runs").json()}
    assert run["id"] not in bob.get("/runs").text
    assert run["id"] in {r["id"] for r in alice.get("/api/runs").json()}
    assert run["id"] in {r["id"] for r in admin.get("/api/runs").json()}
    assert wait_status(alice, run["id"], {"running", "queued"}) != "cancelled"
    assert admin.delete(f"/api/runs/{run['id']}").status_code == 202
    assert wait_status(alice, run["id"], FINISHED) == "cancelled"


def test_a_script_with_the_bearer_token_is_the_same_visitor(shared):
    alice = visitor(shared)
    token = alice.get("/api/me").json()["token"]
    script = visitor(shared, Authorization=f"Bearer {token}")
    forged = visitor(shared, Authorization="Bearer " + token[:-2] + "xx")
    run_id = script.post("/api/runs", json=LONG_RUN).json()["id"]
    assert forged.delete(f"/api/runs/{run_id}").status_code == 403
    assert alice.delete(f"/api/runs/{run_id}").status_code == 202
    assert wait_status(alice, run_id, FINISHED) == "cancelled"


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        (TWENTY_DAYS, r"about [\d.e+]+ minutes.*at most 10\b"),
        (FOUR_HUNDRED_THOUSAND_EVENTS, r"send \d+ events.*at most 100000"),
        (HUGE_STEP, r"one training step would take about [\d.]+ s.*batch size"),
    ],
)
def test_runs_over_the_budget_are_refused_naming_the_budget(shared, spec, named):
    refused = visitor(shared).post("/api/runs", json=spec)
    assert refused.status_code == 422
    assert re.search(named, " ".join(refused.json()["detail"])), refused.json()
    zh = visitor(shared, **{"Accept-Language": "zh-CN"}).post("/api/runs", json=spec)
    assert zh.status_code == 422 and re.search(r"[\u4e00-\u9fff]", " ".join(zh.json()["detail"]))


def test_the_budget_is_checked_on_the_playground_form_too(shared):
    form = {"lr": "0.1", "batch_size": "1", "epochs": "200", "dataset": "spiral", "hidden_units": "4096"}
    form |= {"hidden_layers": "3", "impl": "scratch", "seed": "0", "activation": "relu", "init_std": "0.01"}
    page = visitor(shared).post("/play/mlp/runs", data=form)
    assert page.status_code == 422 and "minutes" in page.text and "hidden units" in page.text


def test_a_fourth_run_in_flight_is_429_and_other_visitors_go_on(shared):
    alice, bob = visitor(shared), visitor(shared)
    accepted = [alice.post("/api/runs", json=LONG_RUN) for _ in range(3)]
    assert [r.status_code for r in accepted] == [201, 201, 201]
    fourth = alice.post("/api/runs", json=LONG_RUN)
    assert fourth.status_code == 429 and int(fourth.headers["Retry-After"]) > 0
    assert "3 runs queued or running" in fourth.json()["detail"]
    form = {"lr": "0.03", "batch_size": "10", "epochs": "1", "true_w": "book", "seed": "0", "impl": "scratch"}
    on_page = alice.post("/play/linreg/runs", data=form, headers={"HX-Request": "true"})
    assert on_page.status_code == 429 and "cancel one" in on_page.text
    assert bob.post("/api/runs", json={"model": "linreg", "epochs": 1}).status_code == 201
    alice.delete(f"/api/runs/{accepted[0].json()['id']}")
    wait_status(alice, accepted[0].json()["id"], FINISHED)
    assert alice.post("/api/runs", json={"model": "linreg", "epochs": 1}).status_code == 201
    cancel_all(alice)
    cancel_all(bob)


def test_a_flood_from_one_visitor_does_not_hold_back_another(tmp_path):
    """50 runs from one visitor, then one from another: it starts as soon as the running one ends."""
    with running_server(tmp_path, workers=1, worker_threads=1, max_runs_per_visitor=100) as live:
        live.wait_ready_workers(1)
        flooder, other = visitor(live), visitor(live)
        small = {"model": "mlp", "dataset": "digits", "batch_size": 16, "epochs": 4, "hidden_units": 64}
        # each its own seed, so no two can share one cohort (tests/runs/test_cohorts.py covers those)
        flood = [flooder.post("/api/runs", json=small | {"seed": i}).json()["id"] for i in range(50)]
        assert all(flood)

        def flood_started() -> int:
            return sum(flooder.get(f"/api/runs/{run_id}").json()["status"] != "queued" for run_id in flood)

        before = flood_started()
        mine = other.post("/api/runs", json=small | {"seed": 999}).json()
        assert mine["position"] == 1, "next after the run that is training now"
        assert wait_status(other, mine["id"], FINISHED, timeout=120) == "done"
        assert flood_started() - before <= 2, "ours waited for at most the run that was training"
        cancel_all(flooder)


def test_cancel_between_dispatch_and_the_workers_receipt_holds(shared):
    """The job is on the worker's pipe when the cancel lands: the run still ends cancelled."""
    alice = visitor(shared)
    for _ in range(5):
        run_id = alice.post("/api/runs", json={"model": "linreg", "epochs": 3}).json()["id"]
        assert alice.delete(f"/api/runs/{run_id}").status_code == 202
        assert wait_status(alice, run_id, FINISHED) == "cancelled"


def test_a_cancel_stops_a_big_step_within_about_a_second(shared):
    """The largest step the budget allows, and a test set evaluated in chunks that check the flag."""
    alice = visitor(shared)
    big = {"model": "mlp", "dataset": "digits", "hidden_units": 2048, "hidden_layers": 2}
    created = alice.post("/api/runs", json=big | {"batch_size": 512, "epochs": 50})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    wait_status(alice, run_id, {"running"})
    time.sleep(0.5)
    asked = time.monotonic()
    alice.delete(f"/api/runs/{run_id}")
    assert wait_status(alice, run_id, FINISHED) == "cancelled"
    assert time.monotonic() - asked < 1.5


def test_a_race_is_its_starters_and_counts_once_against_the_limit(shared):
    alice, bob = visitor(shared), visitor(shared)
    race = alice.post("/api/races", json={"base": LONG_RUN, "vary": "lr", "values": [0.01, 0.1, 1, 10]})
    assert race.status_code == 201, "four lanes, one race: within a limit of three runs"
    run_ids = [run["id"] for run in race.json()["runs"]]
    assert set(run_ids) <= {run["id"] for run in alice.get("/api/runs").json()}
    assert bob.delete(f"/api/runs/{run_ids[0]}").status_code == 403
    assert alice.post("/api/runs", json=LONG_RUN).status_code == 201
    for run_id in run_ids:
        assert alice.delete(f"/api/runs/{run_id}").status_code == 202
    cancel_all(alice)
