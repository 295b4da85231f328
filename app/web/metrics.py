"""Prometheus metrics at /metrics: runs by state, SSE viewers, and how late step events reach them."""

import time

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from app.runs.log import Entry

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class RunCounts:
    """Queued and running from the backend, finished from the store: read at scrape time, so every
    replica reports the same totals."""

    def __init__(self, service):
        self.service = service

    def collect(self):
        try:
            counts = self.service.counts()
        except Exception:  # broker unreachable: /readyz reports it; leave these gauges out
            counts = {}
        for state in counts:
            gauge = GaugeMetricFamily(f"playground_runs_{state}", f"runs {state} now")
            gauge.add_metric([], counts[state])
            yield gauge
        finished = GaugeMetricFamily(
            "playground_runs_finished", "runs in the store by final status", labels=["status"]
        )
        for status, count in sorted(self.service.store.count_by_status().items()):
            finished.add_metric([status], count)
        yield finished


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.sse_clients = Gauge(
            "playground_sse_clients", "event-stream connections open now", registry=self.registry
        )
        self.step_latency = Histogram(
            "playground_step_delivery_seconds",
            "from a step event entering the runs layer to its write to an SSE client",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def watch(self, service) -> None:
        self.registry.register(RunCounts(service))

    def delivered(self, entry: Entry) -> None:
        """EventLog's delivery hook: called once per write, with the newest entry of that write."""
        if entry.event.get("type") == "step":
            self.step_latency.observe(max(0.0, time.time() - entry.born))
