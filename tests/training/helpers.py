"""Run a spec to the end and keep its events, for the training tests."""

from app.training.specs import parse_spec
from app.training.trainer import train


def run(data_dir, should_stop=lambda: False, **spec):
    return list(train(parse_spec(spec), data_dir=data_dir, device="cpu", should_stop=should_stop))


def of_type(events, kind):
    return [event for event in events if event.type == kind]


def last_epoch(events):
    return of_type(events, "epoch")[-1]


def snapshots(events, kind):
    """Snapshots of one kind: linear, boundary, images, landscape or confusion."""
    return [event for event in events if event.type == "snapshot" and event.kind == kind]
