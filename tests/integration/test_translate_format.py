"""The translate kind's ``format`` on the native API: text by default, html kept as html, others refused."""
from __future__ import annotations

from tests.conftest import wait_for


def submit(client, user, text, **extra):
    return client.post("/api/v1/jobs/translate", headers=user.headers,
                       json={"text": text, "source_lang": "en", "target_lang": "es", **extra})


def test_format_defaults_to_text(client, make_user, translate_pairs_registered):
    reply = submit(client, make_user(), "The cat is black.")
    assert reply.status_code == 202 and reply.json["params"]["format"] == "text"


def test_an_unknown_format_is_refused_naming_the_ones_there_are(client, make_user, translate_pairs_registered):
    reply = submit(client, make_user(), "The cat is black.", format="pdf")
    assert reply.status_code in (400, 422)
    assert "format" in reply.json["errors"]["json"] and "html" in str(reply.json["errors"]["json"]["format"])


def test_html_detects_and_counts_words_on_the_visible_text(client, make_user, translate_pairs_registered):
    html = '<div title="Wo ist der Bahnhof">¿Dónde está la estación de tren, por favor?</div>'
    reply = client.post("/api/v1/jobs/translate", headers=make_user().headers,
                        json={"text": html, "source_lang": "auto", "target_lang": "en", "format": "html"})
    assert reply.status_code == 202, reply.json
    assert reply.json["params"]["source_lang"] == "es" and reply.json["params"]["word_count"] == 8


def test_an_html_job_comes_back_as_html(client, make_user, relay, translate_worker, translate_pairs_registered):
    user = make_user()
    reply = submit(client, user, '<p>The <b class="pet">cat</b> is black.</p>', format="html")
    assert reply.status_code == 202, reply.json
    url = f"/api/v1/jobs/{reply.json['id']}"
    job = wait_for(lambda: (body := client.get(url, headers=user.headers).json)["status"] in ("succeeded", "failed")
                   and body, timeout=30, message="the html job to finish")
    assert job["status"] == "succeeded", job
    result = client.get(f"{url}/result", headers=user.headers).json["result"]
    assert result["format"] == "html"
    assert result["translated_text"] == '<p>El <b class="pet">gato</b> es negro.</p>'
