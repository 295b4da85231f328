"""Classroom mode on the broker backend: two web replicas, two Celery workers, one Redis, one store.

A teacher's class made on one replica is the same class on the other: students join and train through
either, the board read from either gets every student's run whole, and what the teacher pushes on one
reaches students following the other.
"""

import json

import httpx

from tests.web.test_classes import FINISHED, finished_lanes, own_events, read_until, wait_done


def client(web) -> httpx.Client:
    return httpx.Client(base_url=web.base, timeout=30)


def on(web, browser: httpx.Client) -> httpx.Client:
    """The same visitor (its signed cookie) on another replica."""
    other = client(web)
    other.cookies.update(dict(browser.cookies))
    return other


def test_a_class_spans_both_replicas(cluster):
    a, b = cluster.webs
    teacher = client(a)
    created = teacher.post(
        "/api/classes", json={"title": "Replicas", "preset": "softmax", "unlocked": ["lr", "epochs"]}
    )
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    students = [client(a), client(b), client(b)]
    for number, student in enumerate(students):
        joined = student.post(f"/api/classes/{code}/students", json={"name": f"S{number}"})
        assert joined.status_code == 201, joined.text
    runs = []
    for student, lr in zip(students, (0.05, 0.1, 0.2), strict=True):
        started = student.post(f"/api/classes/{code}/runs", json={"lr": lr, "epochs": 2})
        assert started.status_code == 201, started.text
        runs.append(started.json()["id"])
    for student, run_id in zip(students, runs, strict=True):
        assert wait_done(student, run_id) in FINISHED

    board_on_b = on(b, teacher)
    board = read_until(board_on_b, f"/api/classes/{code}/events", lambda m: finished_lanes(m) == 3)
    lanes = {
        json.loads(m["data"])["lane"]: json.loads(m["data"])["run_id"] for m in board if m["event"] == "run"
    }
    assert [lanes[lane] for lane in range(3)] == runs
    for lane, run_id in enumerate(runs):
        on_board = [json.loads(m["data"]) for m in board if m["event"] in ("step", "epoch", "finished")]
        on_board = [e for e in on_board if e["lane"] == lane]
        own = [e for e in own_events(client(a), run_id) if e["type"] in ("step", "epoch", "finished")]
        assert [(e["type"], e.get("loss")) for e in on_board] == [(e["type"], e.get("loss")) for e in own]
        assert on_board[-1]["status"] == "done"

    pushed = teacher.post(f"/classes/{code}/quiz", data={"item": "softmax-weight-shape"})
    assert pushed.status_code == 200, pushed.text
    heard = read_until(
        on(b, students[0]),
        f"/classes/{code}/updates",
        lambda m: any(x["event"] == "quiz" for x in m),
        last_event_id="0",
    )
    assert [m["event"] for m in heard] == ["quiz"]
    csv_rows = [
        row
        for row in on(b, teacher).get(f"/classes/{code}/export.csv").text.splitlines()
        if row.startswith("run,")
    ]
    assert len(csv_rows) == 3 and all(",done," in row for row in csv_rows)
