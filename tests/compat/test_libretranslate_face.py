"""LibreTranslate's API at the root paths, driven by the unchanged libretranslatepy client over HTTP."""
from __future__ import annotations

import json
import urllib.error
import uuid

import pytest
import requests
from libretranslatepy import LibreTranslateAPI

from shared.db import db as handle
from shared.models import Job
from tests.conftest import wait_for

ENGLISH = "The cat is black. The house is big."


@pytest.fixture
def api_key(auth_client, make_user):
    """A fresh user's Conveyor API key (``cvk_...``), the credential LibreTranslate clients send."""
    user = make_user()
    reply = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={"name": "libretranslate"})
    assert reply.status_code == 201
    return reply.json["key"]


@pytest.fixture
def running_worker(live_api, relay, translate_worker, translate_pairs):
    """The relay and a real translate worker, once the API lists the worker's pairs."""
    wait_for(lambda: requests.get(f"{live_api}/languages", timeout=5).json(), message="translate worker registered")
    return translate_worker


def refusal(call) -> tuple[int, dict]:
    with pytest.raises(urllib.error.HTTPError) as raised:
        call()
    return raised.value.code, json.loads(raised.value.read())


def test_translate_gives_real_spanish(live_api, api_key, running_worker):
    translated = LibreTranslateAPI(live_api, api_key).translate(ENGLISH, "en", "es", timeout=30).lower()
    assert "gato" in translated and "negro" in translated and "casa" in translated


def test_source_auto_detects_english_and_says_so(live_api, api_key, running_worker):
    translated = LibreTranslateAPI(live_api, api_key).translate(ENGLISH, "auto", "es", timeout=30)
    assert "gato" in translated.lower()
    reply = requests.post(f"{live_api}/translate", json={"q": ENGLISH, "source": "auto", "target": "es",
                                                          "api_key": api_key}, timeout=30)
    assert reply.status_code == 200
    detected = reply.json()["detectedLanguage"]
    assert detected["language"] == "en" and 50 < detected["confidence"] <= 100


def test_an_array_of_texts_gives_an_array_of_translations(live_api, api_key, running_worker):
    reply = requests.post(f"{live_api}/translate", timeout=30, json={
        "q": ["The cat is black.", "The house is big."], "source": "auto", "target": "es", "api_key": api_key})
    assert reply.status_code == 200, reply.text
    first, second = reply.json()["translatedText"]
    assert "gato" in first.lower() and "casa" in second.lower()
    assert [d["language"] for d in reply.json()["detectedLanguage"]] == ["en", "en"]


def test_the_key_may_come_in_the_authorization_header(live_api, api_key, running_worker):
    reply = requests.post(f"{live_api}/translate", headers={"Authorization": f"Bearer {api_key}"},
                          data={"q": "The cat is black.", "source": "en", "target": "es"}, timeout=30)
    assert reply.status_code == 200 and "gato" in reply.json()["translatedText"].lower()


def test_languages_lists_the_live_pairs(live_api, translate_pairs_registered, translate_pairs):
    listed = {entry["code"]: entry for entry in LibreTranslateAPI(live_api).languages(timeout=10)}
    assert listed["en"]["name"] == "English"
    for pair in translate_pairs:
        assert pair["target"] in listed[pair["source"]]["targets"]
    assert all(code not in entry["targets"] for code, entry in listed.items())


def test_detect_answers_english_for_an_english_sentence(live_api, api_key, translate_pairs_registered):
    found = LibreTranslateAPI(live_api, api_key).detect("Where is the train station, please?", timeout=10)
    assert found[0]["language"] == "en" and 50 < found[0]["confidence"] <= 100
    assert [entry["confidence"] for entry in found] == sorted((entry["confidence"] for entry in found), reverse=True)


def test_a_wrong_api_key_is_refused_with_403(live_api, translate_pairs_registered):
    client = LibreTranslateAPI(live_api, "cvk_not-a-key")
    assert refusal(lambda: client.translate("The cat is black.", "en", "es")) == (403, {"error": "Invalid API key"})
    assert refusal(lambda: client.detect("The cat is black.")) == (403, {"error": "Invalid API key"})


def test_a_missing_api_key_is_a_bad_request(live_api, translate_pairs_registered):
    status, body = refusal(lambda: LibreTranslateAPI(live_api).translate("The cat is black.", "en", "es"))
    assert status == 400 and "API key" in body["error"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"source": "en", "target": "es"}, "Invalid request: missing q parameter"),
    ({"q": "Hi", "target": "es"}, "Invalid request: missing source parameter"),
    ({"q": "Hi", "source": "en", "target": "es", "format": "html"}, "html format is not supported"),
    ({"q": "Hi", "source": "en", "target": "es", "format": "pdf"}, "pdf format is not supported"),
    ({"q": "Hi", "source": "en", "target": "xx"}, "unknown language code"),
])
def test_bad_requests_get_libretranslates_error_shape(client, api_key, translate_pairs_registered, fields, message):
    reply = client.post("/translate", data={**fields, "api_key": api_key})
    assert reply.status_code == 400
    assert set(reply.json) == {"error"} and message in reply.json["error"]


def test_auto_refuses_a_text_whose_language_cannot_be_told(client, api_key, translate_pairs_registered):
    reply = client.post("/translate", json={"q": "12345 67890", "source": "auto", "target": "es", "api_key": api_key})
    assert reply.status_code == 400 and "source_lang" in reply.json["error"]


def test_no_answer_in_time_is_504_and_the_job_is_cancelled(client, app, api_key, translate_pairs_registered,
                                                            monkeypatch):
    monkeypatch.setitem(app.config, "LIBRETRANSLATE_WAIT_SECONDS", 0.3)
    text = f"Nobody runs this job {uuid.uuid4().hex}."
    reply = client.post("/translate", json={"q": text, "source": "en", "target": "es", "api_key": api_key})
    assert reply.status_code == 504 and "did not finish" in reply.json["error"]
    with app.app_context():
        job = handle.session.query(Job).filter(Job.params["text"].as_string() == text).one()
        assert job.status == "cancelled"
