"""The OpenAPI documents as Swagger UI and a person's "Try it out" need them (issue 12).

The docs pages bundle Swagger UI 4, which renders only OpenAPI 3.0.x; its Authorize dialog logs in
with the OAuth2 password flow, a bearer token or an API key; each kind's submit shows its own body.
"""
from __future__ import annotations

import base64
import gzip

import pytest

from tests.conftest import STRONG_PASSWORD


@pytest.fixture(scope="module")
def api_document(app):
    return app.test_client().get("/openapi.json").json


@pytest.fixture(scope="module")
def auth_document(auth_app):
    return auth_app.test_client().get("/auth/openapi.json").json


def _resolve(document: dict, schema: dict) -> dict:
    """A component's schema for a ``$ref``, or the schema itself."""
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def _submit_body(document: dict, kind: str) -> dict:
    return document["paths"][f"/api/v1/jobs/{kind}"]["post"]["requestBody"]


@pytest.mark.parametrize("name", ["api_document", "auth_document"])
def test_both_documents_are_openapi_3_0_with_the_three_ways_to_authorize(request, name):
    document = request.getfixturevalue(name)
    assert document["openapi"] == "3.0.3"
    schemes = document["components"]["securitySchemes"]
    assert schemes["oauth2"]["flows"]["password"]["tokenUrl"] == "/auth/v1/login"
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "X-API-Key")
    assert {"oauth2": []} in document["security"] and {"apiKey": []} in document["security"]


def test_the_password_flow_as_swagger_ui_sends_it_gets_a_bearer_token(auth_client, make_user):
    user = make_user()
    # Swagger UI posts the form with an empty client id and secret as Basic credentials.
    reply = auth_client.post("/auth/v1/login", data={"grant_type": "password", "username": user.username,
                                                     "password": STRONG_PASSWORD},
                             headers={"Authorization": "Basic " + base64.b64encode(b":").decode()})
    assert reply.status_code == 200, reply.json
    assert reply.json["access_token"] and reply.json["token_type"].lower() == "bearer"


def test_the_text_kind_takes_json_and_the_file_kinds_a_form_with_the_file(api_document):
    translate = _submit_body(api_document, "translate")
    assert list(translate["content"]) == ["application/json", "multipart/form-data"]
    text_body = _resolve(api_document, translate["content"]["application/json"]["schema"])
    assert {"source_lang", "target_lang"} <= set(text_body["required"]) and "text" in text_body["properties"]
    document_form = _resolve(api_document, translate["content"]["multipart/form-data"]["schema"])
    assert document_form["properties"]["file"]["format"] == "binary"
    assert "file" not in document_form.get("required", [])  # text or a document
    own_fields = {"asr": {"engine", "model", "language", "task", "chunk_seconds"},
                  "vision": {"detection_model_id", "classification_model_id", "score_threshold", "max_detections"},
                  "convert": {"target", "start", "end", "width", "quality"}}
    for kind, fields in own_fields.items():
        body = _submit_body(api_document, kind)
        assert list(body["content"]) == ["multipart/form-data"], kind
        form = _resolve(api_document, body["content"]["multipart/form-data"]["schema"])
        assert form["properties"]["file"] == {**form["properties"]["file"], "type": "string", "format": "binary"}
        assert "file" in form["required"] and fields <= set(form["properties"]), kind
        assert "priority" in form["properties"], kind


def test_fixed_choices_are_enums(api_document):
    asr = _resolve(api_document, _submit_body(api_document, "asr")["content"]["multipart/form-data"]["schema"])
    assert asr["properties"]["engine"]["enum"] == ["whisper", "vosk"]
    assert asr["properties"]["task"]["enum"] == ["transcribe", "translate"]
    convert = _resolve(api_document,
                       _submit_body(api_document, "convert")["content"]["multipart/form-data"]["schema"])
    assert {"mp4", "webm", "mp3", "wav", "ogg", "flac", "jpg", "png", "webp"} <= set(
        convert["properties"]["target"]["enum"])
    vision = _resolve(api_document, _submit_body(api_document, "vision")["content"]["multipart/form-data"]["schema"])
    assert "2 SSD" in vision["properties"]["detection_model_id"]["description"]


def test_an_unknown_kind_is_still_answered_404_naming_the_kinds(client, make_user):
    reply = client.post("/api/v1/jobs/ocr", json={}, headers=make_user().headers)
    assert reply.status_code == 404 and "asr" in reply.json["message"]
    assert "/api/v1/jobs/{kind}" not in client.get("/openapi.json").json["paths"]


def test_the_worker_api_has_its_own_document(api_document, client):
    assert not [path for path in api_document["paths"] if path.startswith("/internal")]
    internal = client.get("/internal/openapi.json").json
    assert internal["openapi"] == "3.0.3"
    assert "/internal/v1/jobs/{job_id}/claim" in internal["paths"]
    assert internal["components"]["securitySchemes"]["workerToken"]["name"] == "X-Worker-Token"
    assert not [path for path in internal["paths"] if not path.startswith("/internal/")]


def test_the_faces_have_their_own_tags_and_the_seed_surfaces_a_section(api_document):
    tagged = {path: item[method]["tags"] for path, item in api_document["paths"].items()
              for method in ("get", "post") if method in item}
    openai = ("/v1/audio/transcriptions", "/v1/audio/translations", "/v1/models")
    libretranslate = ("/translate", "/languages", "/detect", "/translate_file")
    assert {tagged[path][0] for path in openai} == {"OpenAI"}
    assert {tagged[path][0] for path in libretranslate} == {"LibreTranslate"}
    assert {tag["name"] for tag in api_document["tags"]} >= {"OpenAI", "LibreTranslate"}
    path_parameters = api_document["paths"]["/download_file/{job_id}/{name}"]["parameters"]
    assert {parameter["name"] for parameter in path_parameters} == {"job_id", "name"}
    for surface in ("nevisa", "primitives", "translate", "lecture", "converter"):
        assert f"`/compat/{surface}/...`" in api_document["info"]["description"]
        assert f"compat-{surface}.postman_collection.json" in api_document["info"]["description"]


def test_the_docs_page_loads_only_what_it_uses(client):
    page = client.get("/docs").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in page and "swagger-ui-standalone-preset.js" not in page
    assert 'rel="icon"' in page
    assert client.get("/docs/assets/favicon-32x32.png").status_code == 200


def test_operations_anyone_may_call_ask_for_no_authorization(api_document, auth_document, client):
    for path in ("/api/v1/languages", "/api/v1/models"):
        assert api_document["paths"][path]["get"]["security"] == []
        assert client.get(path).status_code == 200, path  # and indeed answer without credentials
    assert auth_document["paths"]["/auth/v1/login"]["post"]["security"] == []
    assert auth_document["paths"]["/auth/v1/register"]["post"]["security"] == []
    # Everything else takes the document's three ways.
    assert "security" not in api_document["paths"]["/api/v1/jobs"]["get"]


def test_the_page_script_goes_gzipped_to_a_browser_that_takes_it(client):
    plain = client.get("/docs/assets/swagger-ui-bundle.js")
    packed = client.get("/docs/assets/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain.headers and plain.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert len(packed.get_data()) < len(plain.get_data()) / 3
    assert packed.headers["Content-Type"].split(";")[0] in ("text/javascript", "application/javascript")
    again = client.get("/docs/assets/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip",
                                                                     "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304
