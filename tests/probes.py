"""Client processes for load tests, so their own CPU and GIL do not count against the server:

python -m tests.probes watch BASE PID    samples the server's RSS and /healthz every 100 ms until
                                         its standard input closes, then prints JSON
python -m tests.probes read BASE RUN_ID  reads a run's whole event stream, prints its ids as JSON
"""

import json
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.server import read_sse


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def watch(base: str, pid: int) -> dict:
    stopped = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stopped.set()), daemon=True).start()
    peak_mb, latencies, failures = 0.0, [], 0
    with httpx.Client(base_url=base, timeout=10) as client:
        while not stopped.wait(0.1):
            peak_mb = max(peak_mb, rss_mb(pid))
            started = time.monotonic()
            failures += client.get("/healthz").status_code != 200
            latencies.append(time.monotonic() - started)
    return {"peak_mb": peak_mb, "healthz_s": latencies, "failures": failures}


def read(base: str, run_id: str) -> list[int]:
    with httpx.stream("GET", f"{base}/api/runs/{run_id}/events", timeout=300) as response:
        return [int(message["id"]) for message in read_sse(response) if "id" in message]


if __name__ == "__main__":
    mode, base, key = sys.argv[1:4]
    print(json.dumps(watch(base, int(key)) if mode == "watch" else read(base, key)))
