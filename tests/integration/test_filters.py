"""Content filters through nginx: too many links, no Japanese → 422 with
the form re-rendered (or JSON), nothing sent; a clean post goes through."""
from harness import post_form


def stack(formpost_factory, nginx_factory, config):
    config["sites"]["example"]["filters"] = {"max_links": 1, "require_japanese": True}
    fp = formpost_factory(config)
    return fp, nginx_factory(fp.target)


def test_filters(formpost_factory, nginx_factory, formpost_config, smtpd):
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    url = ng.url("/formpost/example")
    spam = {"name": "Bob", "email": "bob@example.com",
            "message": "Buy now http://a.example http://b.example"}
    r = post_form(url, spam, accept="application/json")
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "message", "code": "too_many_links",
                                   "message": "お問い合わせ内容に含めるURLの数を減らしてください。"}]
    r = post_form(url, dict(spam, message="Hello, a question about prices"))
    assert r.status_code == 422
    assert "お問い合わせ内容は日本語で入力してください。" in r.text
    assert 'value="Bob"' in r.text          # the form keeps what was typed
    r = post_form(url, dict(spam, message="価格について質問です。https://shop.example/item"))
    assert r.status_code == 200
    assert smtpd.wait(1) and smtpd.count() == 1
    assert len(fp.events(status="422")) == 2
