"""404, 405 and 500: a page in the visitor's language for a browser, JSON for the API and for scripts."""

import re

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.i18n import messages
from app.web.security import CONTENT_SECURITY_POLICY

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
LANGUAGE = {"zh": "zh-CN,zh;q=0.9", "en": "en-US,en;q=0.9"}
SECRET = "a secret the visitor must not see"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("errors"), workers=1, worker_threads=1)
    app = create_app(settings)

    @app.get("/boom")
    @app.get("/api/boom")
    async def boom():
        raise RuntimeError(SECRET)

    with TestClient(app, raise_server_exceptions=False) as client:  # started: the API has its run service
        yield client


@pytest.fixture(autouse=True)
def forget_the_language(client):
    """Each test chooses its language afresh: ?lang= leaves a cookie that would outrank Accept-Language."""
    client.cookies.clear()


def say(key: str, lang: str, **values) -> str:
    return messages()[key][lang].format(**values).replace("'", "&#39;")


def browser(lang: str) -> dict:
    return {"Accept": BROWSER, "Accept-Language": LANGUAGE[lang]}


def assert_page(response, status: int, lang: str, title_key: str):
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert f'<html lang="{lang}">' in response.text
    assert f"<h1>{say(title_key, lang)}</h1>" in response.text
    assert '<a href="/" id="error-home">' + say("nav.home", lang) + "</a>" in response.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_unknown_address_gives_a_browser_a_page_in_its_language(client, lang):
    response = client.get("/no/such/page", headers=browser(lang))
    assert_page(response, 404, lang, "error.not_found")
    assert say("errorpage.not_found", lang, path="/no/such/page") in response.text
    assert "error-detail" not in response.text  # "Not Found" says nothing the sentence does not


def test_the_language_chosen_with_lang_wins(client):
    response = client.get("/no/such/page", params={"lang": "zh"}, headers=browser("en"))
    assert_page(response, 404, "zh", "error.not_found")


def test_a_routes_own_reason_is_kept_folded(client):
    response = client.get("/exercises/no-such-section", headers=browser("zh"))
    assert_page(response, 404, "zh", "error.not_found")
    detail = re.search(
        r'<details id="error-detail"><summary>(.*?)</summary><pre[^>]*><code>(.*?)</code>', response.text
    )
    assert detail.group(1) == say("errorpage.detail", "zh")
    assert "no exercise section" in detail.group(2)


@pytest.mark.parametrize(
    "path, headers",
    [
        ("/no/such/page", {"Accept": "application/json"}),
        ("/no/such/page", {}),  # curl, scripts
        ("/api/no-such-thing", {"Accept": BROWSER}),  # the API answers JSON whoever asks
    ],
)
def test_the_api_and_scripts_get_json_as_before(client, path, headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_api_refusals_keep_their_own_detail(client):
    response = client.get("/api/runs/no-such-run", headers={"Accept": BROWSER})
    assert response.status_code == 404 and "no run with id" in response.json()["detail"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_method_an_address_does_not_take(client, lang):
    response = client.post("/", headers=browser(lang))
    assert_page(response, 405, lang, "errorpage.method.title")
    assert say("errorpage.method", lang, path="/", method="POST") in response.text
    assert response.headers["allow"] == "GET"
    as_json = client.post("/", headers={"Accept": "application/json"})
    assert as_json.status_code == 405 and as_json.json() == {"detail": "Method Not Allowed"}
    assert as_json.headers["allow"] == "GET"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_unexpected_error_is_a_page_without_a_traceback(client, lang):
    response = client.get("/boom", headers=browser(lang))
    assert_page(response, 500, lang, "errorpage.server.title")
    assert say("errorpage.server", lang) in response.text
    for leak in (SECRET, "RuntimeError", "Traceback", "boom.py", "line "):
        assert leak not in response.text


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("path, accept", [("/api/boom", BROWSER), ("/boom", "application/json")])
def test_an_unexpected_error_in_the_api_is_json_in_the_visitors_language(client, lang, path, accept):
    response = client.get(path, headers={"Accept": accept, "Accept-Language": LANGUAGE[lang]})
    assert response.status_code == 500
    assert response.json() == {"detail": messages()["errorpage.server"][lang]}
    assert SECRET not in response.text
