"""The exercise pages in both languages, and answers checked by the server."""

from app.exercises.content import load_sections


def test_every_section_renders_every_item_in_both_languages(server):
    for lang in ("en", "zh"):
        index = server.client.get("/exercises", params={"lang": lang})
        assert index.status_code == 200 and f'lang="{lang}"' in index.text
        for section in load_sections():
            page = server.client.get(f"/exercises/{section.id}", params={"lang": lang}).text
            assert section.title.model_dump()[lang] in page
            for item in section.items:
                assert f'id="item-{item.id}"' in page
                question = item.question.model_dump()[lang]
                assert question.replace('"', "&#34;").replace("'", "&#39;").split("<")[0][:20] in page


def test_the_language_follows_accept_language_and_a_remembered_choice(server):
    chinese = server.client.get("/exercises", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert 'lang="zh"' in chinese.text
    chosen = server.client.get("/exercises", params={"lang": "en"}, headers={"Accept-Language": "zh-CN"})
    assert chosen.cookies.get("lang") == "en"


def test_right_and_wrong_answers(server):
    section = load_sections()[0]
    item = next(i for i in section.items if i.kind == "choice")
    wrong = next(c.id for c in item.choices if c.id != item.answer)
    right = server.client.post(f"/exercises/check/{item.id}", data={"answer": item.answer})
    assert right.status_code == 200 and 'data-verdict="right"' in right.text
    assert item.explanation.en.split()[0] in right.text
    missed = server.client.post(f"/exercises/check/{item.id}", data={"answer": wrong})
    assert 'data-verdict="wrong"' in missed.text
    assert server.client.post(f"/exercises/check/{item.id}", data={"answer": ""}).status_code == 422
    assert server.client.post("/exercises/check/no-such-item", data={"answer": "a"}).status_code == 404
    assert server.client.get("/exercises/cnn").status_code == 404
