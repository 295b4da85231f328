"""GET /api/runs/{id}/notebook.ipynb on a real server: a finished run's notebook for anyone with the link,
a clear refusal while the run is queued or running, and the links to it once the run has finished."""

import subprocess
import sys

import httpx
import nbformat

from tests.server import wait_status

LONG = {"model": "mlp", "dataset": "digits", "epochs": 100, "batch_size": 8}  # trains for many seconds


def notebook_of(client: httpx.Client, run_id: str, lang: str = "en") -> httpx.Response:
    return client.get(f"/api/runs/{run_id}/notebook.ipynb", params={"lang": lang})


def test_a_run_that_has_not_finished_has_no_notebook_yet(server):
    client = server.client
    run_id = client.post("/api/runs", json=LONG).json()["id"]
    try:
        for lang, words in (("en", "once it has finished"), ("zh", "结束之后才能生成笔记本")):
            answer = notebook_of(client, run_id, lang)
            assert answer.status_code == 409, answer.text
            assert words in answer.json()["detail"] and run_id in answer.json()["detail"]
        placeholder = client.get(f"/play/runs/{run_id}/notebook-link", params={"lang": "en"}).text
        assert 'hx-trigger="sse:finished"' in placeholder and "notebook.ipynb" not in placeholder
    finally:
        client.delete(f"/api/runs/{run_id}")
    assert wait_status(client, run_id, {"cancelled", "done"}) == "cancelled"
    first = nbformat.reads(notebook_of(client, run_id).text, 4).cells[0].source
    assert "This run was CANCELLED before its end" in first.replace("\n# ", " ")


def test_a_finished_run_is_a_notebook_for_anyone_with_its_link(server):
    run_id = server.client.post("/api/runs", json={"model": "linreg", "epochs": 1, "seed": 4}).json()["id"]
    assert wait_status(server.client, run_id, {"done", "failed"}) == "done"
    with httpx.Client(base_url=server.base, timeout=30) as stranger:  # another visitor
        answer = notebook_of(stranger, run_id)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ipynb+json")
    assert answer.headers["content-disposition"] == f'attachment; filename="d2l-linreg-{run_id}.ipynb"'
    notebook = nbformat.reads(answer.text, 4)
    nbformat.validate(notebook)
    first = notebook.cells[0]
    assert first.cell_type == "code" and run_id in first.source and "The run ended normally" in first.source
    assert '"model": "linreg"' in first.source and '"seed": 4' in first.source
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    link = server.client.get(f"/play/runs/{run_id}/notebook-link", params={"lang": "en"}).text
    assert f'href="/api/runs/{run_id}/notebook.ipynb?lang=en"' in link
    assert f"/api/runs/{run_id}/notebook.ipynb" in server.client.get("/runs", params={"lang": "en"}).text
    assert notebook_of(server.client, "0" * 32).status_code == 404


def test_a_diverged_run_says_so_first_in_the_visitors_language(server):
    spec = {"model": "linreg", "lr": 5, "epochs": 2}
    run_id = server.client.post("/api/runs", json=spec).json()["id"]
    assert wait_status(server.client, run_id, {"done", "diverged", "failed"}) == "diverged"
    first = nbformat.reads(notebook_of(server.client, run_id, "zh").text, 4).cells[0].source
    assert "这次训练发散了" in first and "学习率 5 对这个模型太大了" in first


def test_building_a_notebook_imports_no_torch():
    """The web process never imports torch, and building a notebook does not make it."""
    code = (
        "import sys\n"
        "from app.notebook import notebook_text\n"
        "from app.web import notebook\n"
        "for model in ('linreg', 'softmax', 'mlp'):\n"
        "    spec = {'model': model, 'impl': 'concise', 'dataset': 'spiral'}\n"
        "    notebook_text(spec, {'id': 'x', 'status': 'done'}, 'zh')\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr[-2000:]
