"""Cross-site refusal, security headers and the request-body cap, against a real uvicorn."""

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from app.web.i18n import messages
from app.web.security import CONTENT_SECURITY_POLICY, cross_site
from tests.server import running_server

EVIL = "https://evil.example"
LONG_RUN = {"model": "mlp", "dataset": "digits", "batch_size": 16, "epochs": 30, "hidden_units": 128}
RACE = {"base": {"model": "linreg", "epochs": 1, "n_examples": 200}, "vary": "lr", "values": [0.01, 0.1]}
TWO_MB = 2_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One worker is enough: most requests here are refused before any route runs."""
    data_dir = tmp_path_factory.mktemp("security")
    with running_server(data_dir, workers=1, worker_threads=1, max_runs_per_visitor=1000) as live:
        live.wait_ready_workers(1)
        yield live


@pytest.fixture(scope="module")
def running(server):
    """A long run to aim cancels at (cancelled at the end of the module)."""
    run_id = server.client.post("/api/runs", json=LONG_RUN).json()["id"]
    yield run_id
    server.client.delete(f"/api/runs/{run_id}")


def text(key: str, lang: str, **values) -> str:
    return messages()[key][lang].format(**values)


def writes(run_id: str):
    """(method, path, keyword arguments) of each kind of state-changing request the site answers."""
    return [
        ("POST", "/api/runs", {"json": {"model": "linreg", "epochs": 1}}),
        ("POST", "/play/linreg/runs", {"data": {"epochs": "1"}}),
        ("POST", f"/play/runs/{run_id}/cancel", {}),
        ("DELETE", f"/api/runs/{run_id}", {}),
        ("POST", "/api/races", {"json": RACE}),
    ]


def test_a_foreign_origin_is_refused_on_every_write_in_both_languages(server, running):
    for method, path, body in writes(running):
        for lang, accept in (("en", "en-US,en;q=0.9"), ("zh", "zh-CN,zh;q=0.9")):
            headers = {"Origin": EVIL, "Accept-Language": accept}
            response = server.client.request(method, path, headers=headers, **body)
            assert response.status_code == 403, (method, path, response.text)
            message = text("security.cross_site", lang)
            if path.startswith("/api/"):
                assert response.json() == {"detail": message}
            else:
                assert response.headers["content-type"].startswith("text/html")
                assert message in response.text and f'<html lang="{lang}">' in response.text
    # Nothing was done: the run was neither cancelled nor deleted.
    assert server.client.get(f"/api/runs/{running}").json()["status"] in ("queued", "running")


def test_an_htmx_request_gets_a_fragment(server):
    headers = {"Origin": EVIL, "HX-Request": "true"}
    response = server.client.post("/play/linreg/runs", data={"epochs": "1"}, headers=headers)
    assert response.status_code == 403
    assert response.text.startswith('<div class="notice error"') and "<html" not in response.text


@pytest.mark.parametrize(
    "origin",
    [
        "null",  # sandboxed frames, data: URLs
        "http://127.0.0.1",  # same host, another port
        "https://127.0.0.1:{port}",  # another scheme
        "http://localhost:{port}",  # another name for the same address is another origin
        "http://127.0.0.1:{port}.evil.example",
        "not a url",
    ],
)
def test_origins_that_are_not_this_one_are_refused(server, origin):
    origin = origin.format(port=urlsplit(server.base).port)
    response = server.client.post("/api/runs", json={"model": "linreg"}, headers={"Origin": origin})
    assert response.status_code == 403, origin


def test_the_same_origin_and_no_origin_pass(server):
    for headers in (
        {"Origin": server.base},
        {"Origin": server.base, "Sec-Fetch-Site": "same-origin"},
        {},  # curl, httpx, the CLI
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
    ):
        response = server.client.post("/api/runs", json={"model": "linreg", "epochs": 1}, headers=headers)
        assert response.status_code == 201, (headers, response.text)
    race = server.client.post("/api/races", json=RACE, headers={"Origin": server.base})
    assert race.status_code == 201, race.text
    form = server.client.post("/play/linreg/runs", data={"epochs": "1"}, headers={"Origin": server.base})
    assert form.status_code == 200 and 'id="live-panel"' in form.text


def test_the_own_origin_may_cancel(server):
    run_id = server.client.post("/api/runs", json=LONG_RUN).json()["id"]
    cancel = server.client.post(f"/play/runs/{run_id}/cancel", headers={"Origin": server.base})
    assert cancel.status_code == 200
    deadline = time.monotonic() + 60
    while server.client.get(f"/api/runs/{run_id}").json()["status"] != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.parametrize("site", ["cross-site", "same-site", "CROSS-SITE"])
def test_without_origin_sec_fetch_site_decides(server, site):
    response = server.client.post("/api/runs", json={"model": "linreg"}, headers={"Sec-Fetch-Site": site})
    assert response.status_code == 403
    assert response.json()["detail"] == text("security.cross_site", "en")


def test_reads_are_not_refused(server, running):
    for path in ("/", f"/api/runs/{running}", "/play/linreg"):
        response = server.client.get(path, headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 200, path


def test_origin_matching_unit():
    def scope(origin=None, host="example.org", scheme="http", fetch_site=None):
        headers = [(b"host", host.encode())] if host else []
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        if fetch_site is not None:
            headers.append((b"sec-fetch-site", fetch_site.encode()))
        return {"type": "http", "scheme": scheme, "headers": headers, "server": ("10.0.0.1", 8000)}

    assert not cross_site(scope("http://example.org"))
    assert not cross_site(scope("http://example.org:80"))  # the default port, written out
    assert not cross_site(scope("http://EXAMPLE.org", host="Example.ORG"))  # hosts ignore case
    assert not cross_site(scope("https://example.org", host="example.org:443", scheme="https"))
    assert not cross_site(scope("http://[::1]:8000", host="[::1]:8000"))
    assert not cross_site(scope("http://10.0.0.1:8000", host=""))  # HTTP/1.0: the server's address
    assert cross_site(scope("https://example.org"))  # another scheme
    assert cross_site(scope("http://example.org:8080"))
    assert cross_site(scope("http://example.org.evil.example"))
    assert cross_site(scope("null"))
    assert cross_site(scope("http://example.org:notaport"))
    assert cross_site(scope("http://example.org", fetch_site="same-origin", host="other.example"))
    assert not cross_site(scope(fetch_site="same-origin"))
    assert not cross_site(scope(fetch_site="none"))
    assert not cross_site(scope())
    assert cross_site(scope(fetch_site="same-site"))


def assert_security_headers(response, csp=CONTENT_SECURITY_POLICY):
    assert response.headers["content-security-policy"] == csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert len(response.headers.get_list("content-security-policy")) == 1


def test_security_headers_on_pages_json_static_files_and_errors(server, running):
    for path in (
        "/",
        "/play/mlp",
        "/runs",
        "/exercises",
        f"/api/runs/{running}",
        "/healthz",
        "/openapi.json",
        "/static/js/common.js",
        "/static/vendor/htmx.min.js",
        "/static/css/app.css",
        "/no/such/page",
        "/api/runs/no-such-run",
    ):
        assert_security_headers(server.client.get(path))
    assert_security_headers(server.client.post("/api/runs", json={}, headers={"Origin": EVIL}))
    with server.client.stream("GET", f"/api/runs/{running}/events") as stream:  # SSE, headers only
        assert_security_headers(stream)


def test_the_api_docs_get_the_pages_policy(server):
    """Swagger UI is vendored and started from a file, so /docs needs nothing looser; ReDoc is off."""
    response = server.client.get("/docs")
    assert response.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in response.text
    assert "<script>" not in response.text  # every script is a file of this server
    assert_security_headers(response)
    assert server.client.get("/redoc").status_code == 404


def big_json() -> bytes:
    return b'{"model": "linreg", "padding": "' + b"x" * TWO_MB + b'"}'


def assert_healthy(server):
    assert server.client.get("/healthz", timeout=5).status_code == 200
    assert "Exception in ASGI application" not in server.log()


def test_a_body_over_the_cap_is_refused_by_its_content_length(server):
    limit = f"{1_000_000:,}"
    response = server.client.post(
        "/api/runs", content=big_json(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": text("security.too_large", "en", limit=limit)}
    assert_security_headers(response)
    page = server.client.post(
        "/play/linreg/runs",
        content=b"epochs=1&padding=" + b"x" * TWO_MB,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "zh-CN"},
    )
    assert page.status_code == 413 and text("security.too_large", "zh", limit=limit) in page.text
    assert_healthy(server)


def test_a_chunked_body_over_the_cap_is_refused_while_it_is_read(server):
    def chunks():
        body = big_json()
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = server.client.post("/api/runs", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413
    assert response.json()["detail"] == text("security.too_large", "en", limit="1,000,000")
    assert_security_headers(response)
    form = server.client.post(
        "/play/linreg/runs",
        content=(part for part in [b"epochs=1&padding=", b"x" * TWO_MB]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 413 and "<html" in form.text
    assert_healthy(server)
    # The connection that carried the refused body still serves the next request.
    assert server.client.get("/healthz").status_code == 200


def test_a_chunked_body_under_the_cap_reaches_the_app(server):
    spec = b'{"model": "linreg", "epochs": 1, "lr": 0.1' + b" " * 900_000 + b"}"
    response = server.client.post(
        "/api/runs",
        content=(spec[i : i + 65536] for i in range(0, len(spec), 65536)),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text[:200]


def raw_request(server, head: bytes, body_parts=(), timeout: float = 10) -> bytes:
    """Send a request's head and some body bytes on a bare socket, then read the first response head."""
    address = urlsplit(server.base)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as sock:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


def test_the_refusal_comes_before_the_body_is_read(server):
    """300 MB announced, none sent: the 413 arrives anyway, so nothing waited for (or kept) the body."""
    head = (
        b"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 300000000\r\n\r\n"
    )
    assert raw_request(server, head).startswith(b"HTTP/1.1 413 ")


def test_a_chunked_body_is_refused_without_waiting_for_its_end(server):
    """A chunked body that never ends: 413 as soon as the cap is passed."""
    head = b"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
    assert raw_request(server, head, [chunk] * 17).startswith(b"HTTP/1.1 413 ")
    assert_healthy(server)


def test_a_form_write_from_a_page_on_this_server_still_works(server):
    """What a browser sends for the playground's own htmx form: Origin and Sec-Fetch-Site both same-origin."""
    client = httpx.Client(base_url=server.base, timeout=30)
    with client:
        page = client.get("/play/linreg")
        assert page.status_code == 200
        headers = {"Origin": server.base, "Sec-Fetch-Site": "same-origin", "HX-Request": "true"}
        response = client.post("/play/linreg/runs", data={"epochs": "1"}, headers=headers)
        assert response.status_code == 200 and 'id="live-panel"' in response.text


def test_an_unexpected_error_still_carries_the_headers(data_dir):
    """The layer wraps even Starlette's ServerErrorMiddleware, so its 500 page is covered too."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app()

    @app.get("/boom")
    async def boom():
        raise RuntimeError("boom")

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    assert_security_headers(response)
