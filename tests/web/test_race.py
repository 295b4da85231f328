"""Races: runs that differ in one control, started together, streamed as one."""

import json
import time
from pathlib import Path

import httpx
import pytest

from app.training.events import without_timing
from app.training.specs import SpecError, parse_spec
from app.training.trainer import train
from app.web.race import RaceRequest, lane_positions, plan
from tests.server import read_sse

FINISHED = {"done", "cancelled", "diverged", "failed", "interrupted"}
BASE = {"model": "linreg", "epochs": 2, "n_examples": 400, "seed": 7}
RATES = [0.01, 0.1, 1.0]


def race_stream(server, race_id: str, last_event_id: str | None = None, stop_after: int | None = None):
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    url = f"{server.base}/api/races/{race_id}/events"
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        return [m for m in read_sse(response, stop_after) if "id" in m]


def wait_finished(server, race_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        race = server.client.get(f"/api/races/{race_id}").json()
        if all(run["status"] in FINISHED for run in race["runs"]):
            return race
        assert time.monotonic() < deadline, race
        time.sleep(0.2)


def test_a_race_of_three_learning_rates_matches_running_them_one_by_one(server, tmp_path):
    created = server.client.post("/api/races", json={"base": BASE, "vary": "lr", "values": RATES})
    assert created.status_code == 201, created.text
    race = wait_finished(server, created.json()["id"])
    assert [run["label"] for run in race["runs"]] == ["lr = 0.01", "lr = 0.1", "lr = 1"]
    for run, lr in zip(race["runs"], RATES, strict=True):
        stored = server.client.get(f"/api/runs/{run['id']}/export.json").json()["events"]
        alone = [without_timing(e) for e in train(parse_spec(BASE | {"lr": lr}), data_dir=Path(tmp_path))]
        strip = [{k: v for k, v in e.items() if k not in ("seconds", "examples_per_sec")} for e in stored]
        assert json.loads(json.dumps(alone)) == strip  # the same curve, event for event
    listed = {r["id"] for r in server.client.get("/api/runs").json()}
    assert {run["id"] for run in race["runs"]} <= listed  # kept in the history like any run


def test_one_stream_carries_every_lane_in_order_and_resumes(server):
    race_id = server.client.post("/api/races", json={"base": BASE, "vary": "lr", "values": RATES}).json()[
        "id"
    ]
    first = race_stream(server, race_id, stop_after=10)
    rest = race_stream(server, race_id, last_event_id=first[-1]["id"])
    whole = race_stream(server, race_id)
    assert first + rest == whole  # resumed exactly where it stopped, nothing twice
    lanes = {0: [], 1: [], 2: []}
    for message in whole:
        event = json.loads(message["data"])
        lanes[event["lane"]].append(event["type"])
    for lane_events in lanes.values():
        assert lane_events[0] == "started" and lane_events[-1] == "finished"
        assert lane_events.count("epoch") == BASE["epochs"] and "snapshot" not in lane_events


def test_bad_races_are_refused_with_what_to_change(server):
    def refused(body):
        response = server.client.post("/api/races", json=body)
        assert response.status_code == 422
        return json.dumps(response.json()["detail"])

    assert "lr = -1" in refused({"base": BASE, "vary": "lr", "values": [0.1, -1]})
    assert "each value once" in refused({"base": BASE, "vary": "lr", "values": [0.1, 0.1]})
    assert "activation" in refused({"base": BASE, "vary": "activation", "values": ["relu", "tanh"]})
    assert "values" in refused({"base": BASE, "vary": "lr", "values": [0.1]})
    assert "vary" in refused({"base": BASE, "vary": "seed", "values": [1, 2]})
    assert server.client.get("/api/races/nope").status_code == 404
    assert server.client.get("/races/nope").status_code == 404


def test_the_playground_race_button_redirects_to_the_race_page(server):
    form = {
        "lr": "0.03",
        "batch_size": "10",
        "epochs": "1",
        "race_vary": "batch_size",
        "race_values": "5, 50",
    }
    started = server.client.post("/play/linreg/race", data=form, headers={"HX-Request": "true"})
    assert started.status_code == 200 and started.headers["HX-Redirect"].startswith("/races/")
    race_page = server.client.get(started.headers["HX-Redirect"])
    assert race_page.status_code == 200 and "batch = 5" in race_page.text and "batch = 50" in race_page.text
    too_few = server.client.post("/play/linreg/race", data=form | {"race_values": "5"})
    assert too_few.status_code == 422 and "2 to 4" in too_few.text


def test_lane_positions_read_only_ids_this_server_could_have_sent():
    assert lane_positions("12.7.30", 3) == [12, 7, 30]
    for malformed in ("9" * 5000, "1." + "9" * 16 + ".1", "1.2", "1..2", "-1.2.3", "1.2.3 ", None):
        assert lane_positions(malformed, 3) == [0, 0, 0], malformed


def test_a_last_event_id_too_long_for_int_starts_every_lane_from_the_beginning(server):
    race_id = server.client.post("/api/races", json={"base": BASE, "vary": "lr", "values": RATES}).json()[
        "id"
    ]
    whole = race_stream(server, race_id)
    assert race_stream(server, race_id, last_event_id="9" * 5000) == whole
    assert race_stream(server, race_id, last_event_id=".".join(["9" * 5000] * 3)) == whole


def test_a_form_race_takes_strings_and_a_json_race_takes_numbers():
    form = RaceRequest(
        base={"model": "linreg", "lr": "0.03", "epochs": "1"}, vary="batch_size", values=["5", "50"]
    )
    assert [spec["batch_size"] for spec in plan(form)] == [5, 50]
    with pytest.raises(SpecError):
        plan(form, strict=True)
    as_json = RaceRequest(base={"model": "linreg", "lr": 0.03}, vary="batch_size", values=[5, 50])
    assert [spec["batch_size"] for spec in plan(as_json, strict=True)] == [5, 50]
