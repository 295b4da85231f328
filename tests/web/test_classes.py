"""Classroom mode on a real server: a teacher's class, students joining and training, the board's stream,
push, quiz, reveal, end, and who may do what."""

import json
import time

import httpx

from tests.server import read_sse, running_server

FINISHED = {"done", "cancelled", "diverged", "failed", "interrupted"}


def visitor(server) -> httpx.Client:
    """A browser of its own: its own cookie jar, so its own identity."""
    return httpx.Client(base_url=server.base, timeout=30)


def start_class(teacher: httpx.Client, unlocked=("lr", "epochs"), preset="softmax") -> dict:
    created = teacher.post(
        "/api/classes", json={"title": "Week 3", "preset": preset, "unlocked": list(unlocked)}
    )
    assert created.status_code == 201, created.text
    return created.json()


def join(student: httpx.Client, code: str, name: str) -> dict:
    joined = student.post(f"/api/classes/{code}/students", json={"name": name})
    assert joined.status_code == 201, joined.text
    return joined.json()


def train(student: httpx.Client, code: str, **values) -> dict:
    started = student.post(f"/api/classes/{code}/runs", json=values)
    assert started.status_code == 201, started.text
    return started.json()


def wait_done(client: httpx.Client, run_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while (status := client.get(f"/api/runs/{run_id}").json()["status"]) not in FINISHED:
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status


def read_until(client: httpx.Client, url: str, enough, timeout: float = 60, last_event_id: str = "") -> list:
    """Messages of a stream that never ends by itself, until enough(messages) or the timeout."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    messages, deadline = [], time.monotonic() + timeout
    with client.stream("GET", url, headers=headers, timeout=httpx.Timeout(30, read=timeout)) as response:
        assert response.status_code == 200, response.read()
        for message in read_sse(response):
            messages.append(message)
            if enough(messages) or time.monotonic() > deadline:
                break
    return messages


def finished_lanes(messages) -> int:
    return sum(1 for m in messages if m.get("event") == "finished")


def own_events(client: httpx.Client, run_id: str) -> list[dict]:
    with client.stream("GET", f"/api/runs/{run_id}/events", timeout=60) as response:
        return [json.loads(m["data"]) for m in read_sse(response) if "id" in m]


def test_students_train_in_the_class_and_the_board_gets_every_event_of_every_run_in_order(server):
    teacher = visitor(server)
    code = start_class(teacher)["code"]
    students = [visitor(server) for _ in range(3)]
    names = [join(s, code, "Ana")["name"] for s in students]
    assert names == ["Ana", "Ana (2)", "Ana (3)"]
    runs = [train(s, code, lr=lr, epochs=2) for s, lr in zip(students, (0.05, 0.3, 1.0), strict=True)]
    assert all(wait_done(s, r["id"]) == "done" for s, r in zip(students, runs, strict=True))

    board = read_until(teacher, f"/api/classes/{code}/events", lambda m: finished_lanes(m) == 3)
    kinds = [m["event"] for m in board]
    assert kinds[:3] == ["joined"] * 3
    run_events = {json.loads(m["data"])["lane"]: json.loads(m["data"]) for m in board if m["event"] == "run"}
    assert [run_events[lane]["run_id"] for lane in range(3)] == [r["id"] for r in runs]
    assert [run_events[lane]["settings"] for lane in range(3)] == [
        {"epochs": 2, "lr": 0.05},
        {"epochs": 2, "lr": 0.3},
        {"epochs": 2, "lr": 1.0},
    ]
    for lane, (student, run) in enumerate(zip(students, runs, strict=True)):
        on_board = [json.loads(m["data"]) for m in board if m["event"] in ("step", "epoch", "finished")]
        on_board = [e for e in on_board if e["lane"] == lane]
        own = [e for e in own_events(student, run["id"]) if e["type"] in ("step", "epoch", "finished")]
        assert [e["type"] for e in on_board] == [e["type"] for e in own]  # every event, in order
        assert [e.get("loss") for e in on_board] == [e.get("loss") for e in own]

    # A board that reconnects mid-stream gets the rest exactly once.
    cut = 10
    first_part = board[:cut]
    rest = read_until(
        teacher,
        f"/api/classes/{code}/events",
        lambda m: len(first_part) + len(m) >= len(board),
        last_event_id=first_part[-1]["id"],
    )
    assert [m["data"] for m in first_part + rest] == [m["data"] for m in board]


def test_a_locked_setting_is_refused_by_name_and_the_run_is_tagged_with_the_class(server):
    teacher, student = visitor(server), visitor(server)
    code = start_class(teacher, unlocked=("lr",))["code"]
    join(student, code, "Bo")
    refused = student.post(f"/api/classes/{code}/runs", json={"lr": 0.1, "batch_size": 8})
    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        "batch_size: locked by the teacher. Change only the settings the class page leaves editable."
    ]
    refused = student.post(f"/api/classes/{code}/runs", json={"model": "mlp"})
    assert refused.status_code == 422 and refused.json()["detail"][0].startswith("model:")
    batch_size = student.get(f"/api/classes/{code}").json()["spec"]["batch_size"]
    same_value = student.post(f"/api/classes/{code}/runs", json={"lr": 0.2, "batch_size": batch_size})
    assert same_value.status_code == 201, same_value.text  # a locked setting at the class's value is fine
    assert same_value.json()["class"] == code
    zh = student.post(f"/api/classes/{code}/runs?lang=zh", json={"epochs": 3})
    assert zh.status_code == 422 and "锁定" in zh.json()["detail"][0]
    outsider = visitor(server)
    assert outsider.post(f"/api/classes/{code}/runs", json={"lr": 0.1}).status_code == 403


def test_only_the_teacher_runs_the_board(server):
    teacher, student = visitor(server), visitor(server)
    created = start_class(teacher)
    code = created["code"]
    join(student, code, "Cy")
    assert teacher.get(f"/classes/{code}/board").status_code == 200
    for method, path, data in (
        ("GET", f"/classes/{code}/board", None),
        ("GET", f"/api/classes/{code}/events", None),
        ("POST", f"/classes/{code}/push", {"preset": "softmax", "unlocked": "lr"}),
        ("POST", f"/classes/{code}/quiz", {"item": "softmax-weight-shape"}),
        ("POST", f"/classes/{code}/reveal", {}),
        ("POST", f"/classes/{code}/end", {}),
        ("GET", f"/classes/{code}/summary", None),
        ("GET", f"/classes/{code}/export.csv", None),
    ):
        answer = student.request(method, path, data=data)
        assert answer.status_code == 403, (path, answer.status_code)
    # The teacher link opened on another device makes that device a teacher too; a wrong key does not.
    phone = visitor(server)
    assert phone.get(f"/classes/{code}/board?key=wrong").status_code == 403
    link = created["teacher_url"].removeprefix(server.base)
    assert phone.get(link).status_code == 200
    assert phone.get(f"/classes/{code}/board").status_code == 200


def test_names_with_markup_are_text_everywhere(server):
    teacher, student = visitor(server), visitor(server)
    code = start_class(teacher)["code"]
    join(student, code, "<b>x</b><script>y</script>")
    page = student.get(f"/classes/{code}").text
    assert "<b>x</b>" not in page and "<script>y</script>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    student.post(f"/api/classes/{code}/runs", json={"lr": 0.1, "epochs": 1})
    summary = teacher.get(f"/classes/{code}/summary").text
    assert "<b>x</b>" not in summary and "&lt;b&gt;x&lt;/b&gt;" in summary
    spreadsheet = visitor(server)
    join(spreadsheet, code, "=HYPERLINK(1)")
    spreadsheet.post(f"/api/classes/{code}/runs", json={"lr": 0.1, "epochs": 1})
    assert ",'=HYPERLINK(1)," in teacher.get(f"/classes/{code}/export.csv").text  # never a formula


def test_a_students_stream_carries_only_the_class_wide_events(server):
    """A student never receives other students' names, settings or answers: only preset, quiz, reveal
    and ended, as the teacher does them."""
    teacher, ana, bo = visitor(server), visitor(server), visitor(server)
    code = start_class(teacher)["code"]
    join(ana, code, "Ana")
    join(bo, code, "Bo")
    train(bo, code, lr=0.2, epochs=1)
    pushed = teacher.post(f"/classes/{code}/quiz", data={"item": "softmax-weight-shape"})
    assert pushed.status_code == 200, pushed.text
    answered = bo.post(f"/classes/{code}/answers", data={"item": "softmax-weight-shape", "answer": "784x10"})
    assert answered.status_code == 200, answered.text
    teacher.post(f"/classes/{code}/reveal")
    teacher.post(f"/classes/{code}/push", data={"preset": "lesson:softmax_cannot", "unlocked": ["lr"]})
    messages = read_until(
        ana, f"/classes/{code}/updates", lambda m: any(x["event"] == "preset" for x in m), last_event_id="0"
    )
    assert [m["event"] for m in messages] == ["quiz", "reveal", "preset"]
    assert "Bo" not in "".join(m["data"] for m in messages)
    quiz = ana.get(f"/classes/{code}/quiz").text
    assert 'id="quiz-explanation"' in quiz  # revealed on every student's page


def test_a_pushed_preset_keeps_the_students_unlocked_values_where_they_apply(server):
    teacher, student = visitor(server), visitor(server)
    code = start_class(teacher, unlocked=("lr",))["code"]
    join(student, code, "Di")
    teacher.post(f"/classes/{code}/push", data={"preset": "lesson:softmax_cannot", "unlocked": ["lr"]})
    form = student.get(f"/classes/{code}/form", params={"lr": "0.7", "batch_size": "8"}).text
    assert 'name="lr" value="0.7"' in form  # the student's own learning rate stays
    assert 'id="f-batch_size" name="batch_size" value="8"' not in form  # a locked one does not move
    assert "disabled data-locked" in form
    assert 'value="spiral" selected' in form  # the new preset's dataset


def test_the_quiz_uses_the_exercise_checker_and_the_board_sees_each_latest_answer(server):
    teacher, ana, bo = visitor(server), visitor(server), visitor(server)
    code = start_class(teacher)["code"]
    join(ana, code, "Ana")
    join(bo, code, "Bo")
    teacher.post(f"/classes/{code}/quiz", data={"item": "softmax-weight-shape"})
    unreadable = ana.post(f"/classes/{code}/answers", data={"item": "softmax-weight-shape", "answer": "lots"})
    assert unreadable.status_code == 422 and 'data-verdict="unreadable"' in unreadable.text
    ana.post(f"/classes/{code}/answers", data={"item": "softmax-weight-shape", "answer": "3x4"})
    ana.post(f"/classes/{code}/answers", data={"item": "softmax-weight-shape", "answer": "4 x 3"})
    bo.post(f"/classes/{code}/answers", data={"item": "softmax-weight-shape", "answer": "(4, 3)"})
    board = read_until(
        teacher, f"/api/classes/{code}/events", lambda m: sum(x["event"] == "answered" for x in m) == 3
    )
    answers = [json.loads(m["data"]) for m in board if m["event"] == "answered"]
    assert [(a["name"], a["verdict"]) for a in answers] == [
        ("Ana", "wrong"),
        ("Ana", "right"),
        ("Bo", "right"),
    ]
    exported = teacher.get(f"/classes/{code}/export.json").json()
    assert sorted((a["student"], a["verdict"]) for a in exported["answers"]) == [
        ("Ana", "right"),
        ("Bo", "right"),
    ]


def test_ending_closes_joining_and_training_and_leaves_the_summary(server):
    teacher, ana = visitor(server), visitor(server)
    code = start_class(teacher)["code"]
    join(ana, code, "Ana")
    done = train(ana, code, lr=0.1, epochs=1)
    wait_done(ana, done["id"])
    long_run = train(ana, code, lr=0.1, epochs=200)
    ended = teacher.post(f"/classes/{code}/end")
    assert ended.status_code == 200 and "/summary" in ended.text
    assert wait_done(ana, long_run["id"]) == "cancelled"
    late = visitor(server)
    assert late.post(f"/api/classes/{code}/students", json={"name": "Late"}).status_code == 409
    refused = ana.post(f"/api/classes/{code}/runs", json={"lr": 0.1})
    assert refused.status_code == 409 and "ended" in refused.json()["detail"]
    assert "disabled" in ana.get(f"/classes/{code}").text.split('id="train"')[1][:40]
    csv_text = teacher.get(f"/classes/{code}/export.csv").text
    rows = [line for line in csv_text.splitlines() if line.startswith("run,")]
    assert len(rows) == 2 and ",done," in rows[0] and ",cancelled," in rows[1]


def test_joining_by_code_from_the_home_page_and_unknown_codes(server):
    teacher, student = visitor(server), visitor(server)
    code = start_class(teacher)["code"]
    typed = student.get("/classes/join", params={"code": f" {code[:3].lower()}-{code[3:]} "})
    assert typed.status_code == 303 and typed.headers["location"] == f"/classes/{code}"
    assert student.get("/classes/join", params={"code": "NOPE99"}).status_code == 404
    assert 'id="join-form"' in student.get(f"/classes/{code}").text  # not joined yet: asked for a name
    named = student.post(f"/classes/{code}/join", data={"name": "x" * 40})
    assert named.status_code == 422 and "30" in named.text
    assert student.get("/classes/ABCDEF").status_code == 404


def test_a_class_and_its_runs_survive_a_restart(tmp_path):
    teacher_cookies, student_cookies = None, None
    with running_server(tmp_path, workers=1, worker_threads=1) as live:
        teacher, student = visitor(live), visitor(live)
        code = start_class(teacher)["code"]
        join(student, code, "Ana")
        run = train(student, code, lr=0.1, epochs=1)
        assert wait_done(student, run["id"]) == "done"
        teacher.post(f"/classes/{code}/quiz", data={"item": "softmax-weight-shape"})
        student.post(f"/classes/{code}/answers", data={"item": "softmax-weight-shape", "answer": "784x10"})
        before = teacher.get(f"/classes/{code}/export.json").json()
        teacher_cookies, student_cookies = dict(teacher.cookies), dict(student.cookies)
    with running_server(tmp_path, workers=1, worker_threads=1) as live:
        teacher, student = visitor(live), visitor(live)
        teacher.cookies.update(teacher_cookies)
        student.cookies.update(student_cookies)
        assert teacher.get(f"/classes/{code}/export.json").json() == before
        assert "Ana" in student.get(f"/classes/{code}").text
        board = read_until(teacher, f"/api/classes/{code}/events", lambda m: finished_lanes(m) == 1)
        assert [json.loads(m["data"])["status"] for m in board if m["event"] == "finished"] == ["done"]
        again = train(student, code, lr=0.2, epochs=1)
        assert wait_done(student, again["id"]) == "done"
