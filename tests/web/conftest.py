import pytest

from tests.server import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server with two workers for a test module."""
    with running_server(
        tmp_path_factory.mktemp("server"), workers=2, worker_threads=1, max_runs_per_visitor=100
    ) as live:
        live.wait_ready_workers(2)
        yield live
