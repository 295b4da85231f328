"""The small rules of a class, and its store: codes, names, the class log's order."""

import threading

import pytest
from sqlalchemy import create_engine

from app.classes.rules import (
    CODE_ALPHABET,
    ClassProblem,
    check_unlocked,
    clean_name,
    locked_changes,
    new_code,
    normal_code,
    unique_name,
)
from app.classes.service import Classes
from app.classes.store import ClassStore
from app.training.specs import parse_spec


def test_codes_avoid_characters_read_two_ways():
    codes = {new_code() for _ in range(200)}
    assert all(len(code) == 6 and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert len(codes) > 190  # random, not a counter


def test_a_typed_code_is_read_leniently_but_never_as_arbitrary_text():
    assert normal_code(" ab3-k7m ") == "AB3K7M"
    assert normal_code("AB3K7") is None
    assert normal_code("AB0K7M") is None  # a zero is never in a code
    assert normal_code("'; drop") is None


def test_names_any_script_made_unique_in_the_class():
    assert clean_name("  李  雷 ") == "李 雷"
    assert unique_name("Ana", {"ana", "Ana (2)"}) == "Ana (3)"
    assert unique_name("Bo", {"Ana"}) == "Bo"
    with pytest.raises(ClassProblem) as too_long:
        clean_name("x" * 31)
    assert too_long.value.code == "name_length"
    with pytest.raises(ClassProblem):
        clean_name("   ")
    with pytest.raises(ClassProblem) as control:
        clean_name("a\u0000b")
    assert control.value.code == "name_characters"


def test_unlocked_settings_must_be_the_models_own():
    assert check_unlocked("softmax", ["lr", "lr", "epochs"]) == ["epochs", "lr"]  # once each, spec order
    with pytest.raises(ClassProblem) as unknown:
        check_unlocked("softmax", ["hidden_units"])
    assert unknown.value.code == "unknown_setting"


def test_a_locked_setting_changed_is_named():
    class_spec = parse_spec({"model": "softmax", "dataset": "digits"}).model_dump()
    student = parse_spec(class_spec | {"lr": 0.3, "epochs": 2}).model_dump()
    assert locked_changes(class_spec, ["lr"], student) == ["epochs"]
    assert locked_changes(class_spec, ["lr", "epochs"], student) == []


@pytest.fixture
def classes(tmp_path):
    return Classes(ClassStore(create_engine(f"sqlite:///{tmp_path / 'runs.sqlite3'}")))


def softmax_class(classes: Classes):
    spec = parse_spec({"model": "softmax", "dataset": "digits"}).model_dump()
    return classes.create("teacher", "Week 3", "softmax", spec, ["lr"])


def test_students_joining_at_once_get_distinct_names_and_numbers_and_the_log_stays_in_order(classes):
    row = softmax_class(classes)
    threads = [
        threading.Thread(target=classes.join, args=(row.code, f"visitor-{i}", "Ana")) for i in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    students = classes.store.students(row.code)
    assert sorted(s.number for s in students) == list(range(1, 13))
    assert len({s.name for s in students}) == 12
    assert {s.name for s in students} >= {"Ana", "Ana (2)", "Ana (12)"}
    events = classes.store.events(row.code)
    assert [e.seq for e in events] == list(range(1, 13))
    assert all(e.type == "joined" for e in events)
    again = classes.join(row.code, "visitor-0", "Someone else")
    assert again.name == next(s.name for s in students if s.visitor == "visitor-0")  # joining again keeps it
    assert len(classes.store.events(row.code)) == 12


def test_runs_become_lanes_in_order_and_an_ended_class_refuses(classes):
    row = softmax_class(classes)
    ana = classes.join(row.code, "v1", "Ana")
    first = classes.record_run(row.code, ana, "run-a", {"lr": 0.1})
    second = classes.record_run(row.code, ana, "run-b", {"lr": 0.3})
    assert (first.data["lane"], second.data["lane"]) == (0, 1)
    classes.push_quiz(row.code, "softmax-weight-shape")
    classes.answer(row.code, ana, "softmax-weight-shape", "784x10", "right")
    classes.answer(row.code, ana, "softmax-weight-shape", "10x784", "wrong")  # the newer one counts
    answers = classes.store.answers(row.code)
    assert [(a.answer, a.verdict) for a in answers] == [("10x784", "wrong")]
    assert classes.end(row.code).type == "ended"
    assert classes.end(row.code) is None  # ended once
    for refused in (
        lambda: classes.join(row.code, "v2", "Bo"),
        lambda: classes.push_quiz(row.code, "softmax-weight-shape"),
        lambda: classes.student_may_train(classes.store.get(row.code)),
    ):
        with pytest.raises(ClassProblem) as problem:
            refused()
        assert problem.value.code == "ended"
    types = [e.type for e in classes.store.events(row.code)]
    assert types == ["joined", "run", "run", "quiz", "answered", "answered", "ended"]


def test_the_teacher_link_adds_a_teacher_only_with_the_right_key(classes):
    row = softmax_class(classes)
    with pytest.raises(ClassProblem):
        classes.add_teacher(row.code, "phone", "wrong-key")
    classes.add_teacher(row.code, "phone", row.teacher_key)
    fresh = classes.store.get(row.code)
    assert classes.is_teacher(fresh, "phone") and classes.is_teacher(fresh, "teacher")
    assert not classes.is_teacher(fresh, "student")
