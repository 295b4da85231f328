"""Each run event becomes SSE bytes once, whatever the number of viewers.

A JSON message named after the event type feeds the charts; epoch, started and finished events are
preceded by an HTML fragment (an epoch-table row, the status line) that htmx swaps in. Only the last
message of each group carries the `id:`, so a viewer that reconnects with Last-Event-ID never misses a
fragment and never sees an event twice.
"""

import orjson
from sse_starlette import ServerSentEvent

from .templating import render

FRAGMENTS = {
    "epoch": ("epoch-row", "fragments/epoch_row.html"),
    "started": ("status", "fragments/status.html"),
    "finished": ("status", "fragments/status.html"),
}


def encode_event(event_id: str, event: dict) -> bytes:
    chunks = []
    if event["type"] in FRAGMENTS:
        name, template = FRAGMENTS[event["type"]]
        html = " ".join(render(template, event=event).split())  # one line: SSE data stays one field
        chunks.append(ServerSentEvent(data=html, event=name).encode())
    data = orjson.dumps(event).decode()  # compact; ~4x faster than json on a picture's thousands of floats
    chunks.append(ServerSentEvent(data=data, event=event["type"], id=event_id).encode())
    return b"".join(chunks)
