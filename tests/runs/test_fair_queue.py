"""The queue takes visitors in turn: the visitor served longest ago (or never) starts next."""

from app.runs.pool import FairQueue


def queue_of(*owners_and_ids: tuple[str, str]) -> FairQueue:
    queue = FairQueue()
    for owner, run_id in owners_and_ids:
        queue.push(owner, (run_id, {}))
    return queue


def test_a_visitor_who_floods_the_queue_waits_their_turn():
    queue = queue_of(*[("flood", f"f{i}") for i in range(50)])
    assert queue.pop()[0] == "f0"  # the flood's first run starts
    queue.push("student", ("s0", {}))
    assert queue.position("s0") == 1, "the student has not been served yet: next in line"
    assert queue.order()[:3] == ["s0", "f1", "f2"]
    assert [queue.pop()[0] for _ in range(3)] == ["s0", "f1", "f2"]


def test_visitors_alternate_and_positions_follow_every_change():
    queue = queue_of(("a", "a1"), ("a", "a2"), ("b", "b1"), ("b", "b2"), ("c", "c1"))
    assert queue.order() == ["a1", "b1", "c1", "a2", "b2"]
    assert [queue.position(run_id) for run_id in ("a1", "b2", "c1")] == [1, 5, 3]
    assert queue.remove("b1") and not queue.remove("b1")
    assert queue.position("b2") == 2 and len(queue) == 4
    assert queue.pop()[0] == "a1"
    assert queue.position("a1") is None and queue.position("b2") == 1
    queue.push("d", ("d1", {}))
    assert queue.order() == ["b2", "c1", "d1", "a2"]
    assert len(queue) == 4 and bool(queue)
