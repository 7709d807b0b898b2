"""``source_lang: "auto"`` on the native API: detected at submit time, kept visible, refused when unsure."""
from __future__ import annotations

from services.api.kinds.translate import MIN_DETECTION_CONFIDENCE
from tests.conftest import wait_for


def submit(client, user, text, target="es", **extra):
    return client.post("/api/v1/jobs/translate", headers=user.headers,
                       json={"text": text, "source_lang": "auto", "target_lang": target, **extra})


def test_auto_keeps_the_detected_language_in_the_params(client, make_user, translate_pairs_registered):
    reply = submit(client, make_user(), "¿Dónde está la estación de tren?", target="en")
    assert reply.status_code == 202, reply.json
    params = reply.json["params"]
    assert params["source_lang"] == "es" and params["target_lang"] == "en"
    assert params["detected_source"]["language"] == "es"
    assert MIN_DETECTION_CONFIDENCE <= params["detected_source"]["confidence"] <= 1


def test_a_text_whose_language_cannot_be_told_is_refused(client, make_user, translate_pairs_registered):
    reply = submit(client, make_user(), "12345 67890")
    assert reply.status_code == 400
    assert "source_lang" in reply.json["message"]


def test_an_ambiguous_word_is_refused_naming_the_best_guess(client, make_user, translate_pairs_registered):
    reply = submit(client, make_user(), "Hola hello ciao")
    assert reply.status_code == 400
    assert "best guess" in reply.json["message"] and "source_lang" in reply.json["message"]


def test_text_detected_in_the_target_language_is_refused_as_a_same_language_pair(client, make_user,
                                                                                  translate_pairs_registered):
    reply = submit(client, make_user(), "The cat is black and the house is big.", target="en")
    assert reply.status_code == 400 and "both 'en'" in reply.json["message"]


def test_the_client_cannot_set_detected_source_itself(client, make_user, translate_pairs_registered):
    reply = client.post("/api/v1/jobs/translate", headers=make_user().headers, json={
        "text": "The cat is black.", "source_lang": "en", "target_lang": "es",
        "detected_source": {"language": "en", "confidence": 1.0}})
    assert reply.status_code == 422


def test_an_explicit_source_carries_no_detection(client, make_user, translate_pairs_registered):
    reply = client.post("/api/v1/jobs/translate", headers=make_user().headers,
                        json={"text": "The cat is black.", "source_lang": "en", "target_lang": "es"})
    assert reply.status_code == 202 and "detected_source" not in reply.json["params"]


def test_openapi_documents_auto(client):
    schema = client.get("/openapi.json").json["components"]["schemas"]["TranslateParams"]
    assert "'auto'" in schema["properties"]["source_lang"]["description"]


def test_an_auto_job_is_translated_from_the_detected_language(client, make_user, relay, translate_worker):
    user = make_user()
    wait_for(lambda: client.get("/api/v1/languages").json["pairs"], message="translate worker registered")
    job = submit(client, user, "The cat is black.").json

    def finished():
        view = client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).json
        return view if view["status"] in ("succeeded", "failed") else None

    assert wait_for(finished, timeout=30)["status"] == "succeeded"
    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers).json["result"]
    assert result["source_lang"] == "en" and "gato" in result["translated_text"].lower()
