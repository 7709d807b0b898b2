"""LibreTranslate's API at the root paths, driven by the unchanged libretranslatepy client over HTTP."""
from __future__ import annotations

import io
import json
import urllib.error
import uuid

import pytest
import requests
from libretranslatepy import LibreTranslateAPI

from services.api.kinds.translate import MIN_DETECTION_CONFIDENCE
from shared.db import db as handle
from shared.models import Job
from tests.conftest import wait_for
from tests.document_samples import (
    SENTENCES,
    docx_bytes,
    odt_bytes,
    png_bytes,
    pptx_bytes,
    xlsx_bytes,
    xxe_docx,
    zip_bomb_docx,
)

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
    ({"q": "Hi", "source": "en", "target": "es", "format": "pdf"}, "pdf format is not supported"),
    ({"q": "Hi", "source": "en", "target": "xx"}, "unknown language code"),
    ({"q": "Hola", "source": "es", "target": "es"}, "source and target are both 'es'"),
    ({"q": "Hi", "source": "en", "target": "es", "alternatives": "4"}, "alternatives must be an integer from 0 to 3"),
    ({"q": "Hi", "source": "en", "target": "es", "alternatives": "two"}, "alternatives must be an integer"),
])
def test_bad_requests_get_libretranslates_error_shape(client, api_key, translate_pairs_registered, fields, message):
    reply = client.post("/translate", data={**fields, "api_key": api_key})
    assert reply.status_code == 400
    assert set(reply.json) == {"error"} and message in reply.json["error"]
    assert "source_lang" not in reply.json["error"] and "target_lang" not in reply.json["error"]


@pytest.mark.parametrize("value", [-1, 4, 1.5, True, "x"])
def test_alternatives_out_of_range_in_json_is_a_bad_request(client, api_key, translate_pairs_registered, value):
    reply = client.post("/translate", json={"q": "Hi", "source": "en", "target": "es", "alternatives": value,
                                            "api_key": api_key})
    assert reply.status_code == 400 and "alternatives must be an integer from 0 to 3" in reply.json["error"]


def test_auto_refuses_only_a_text_with_no_letters_naming_librettranslates_parameters(client, api_key,
                                                                                    translate_pairs_registered):
    reply = client.post("/translate", json={"q": "12345 67890", "source": "auto", "target": "es", "api_key": api_key})
    assert reply.status_code == 400 and set(reply.json) == {"error"}
    assert "set source to its language code" in reply.json["error"] and "source_lang" not in reply.json["error"]


def test_auto_on_a_short_text_takes_the_best_guess_and_says_how_sure(live_api, api_key, running_worker):
    """The native API refuses a guess under 50 %; LibreTranslate translates from it and reports it."""
    text = "hotel taxi"
    native = requests.post(f"{live_api}/api/v1/jobs/translate", headers={"X-API-Key": api_key}, timeout=30,
                           json={"text": text, "source_lang": "auto", "target_lang": "es"})
    assert native.status_code == 400 and "best guess" in native.json()["message"]
    translated = LibreTranslateAPI(live_api, api_key).translate(text, "auto", "es", timeout=30)
    assert isinstance(translated, str) and translated
    reply = requests.post(f"{live_api}/translate", json={"q": text, "source": "auto", "target": "es",
                                                          "api_key": api_key}, timeout=30)
    assert reply.status_code == 200, reply.text
    detected = reply.json()["detectedLanguage"]
    assert set(detected) == {"language", "confidence"}
    assert 0 < detected["confidence"] < MIN_DETECTION_CONFIDENCE * 100
    sources = {entry["code"] for entry in LibreTranslateAPI(live_api).languages() if "es" in entry["targets"]}
    assert detected["language"] in sources


def test_html_keeps_the_markup_and_translates_the_text(live_api, api_key, running_worker):
    reply = requests.post(f"{live_api}/translate", timeout=30, json={
        "q": "<p>The <b>cat</b> is black.</p>", "source": "en", "target": "es", "format": "html", "api_key": api_key})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"translatedText": "<p>El <b>gato</b> es negro.</p>"}
    page = '<div class="note" title="The dog">The dog &amp; the cat &lt;3</div><!-- the house -->'
    reply = requests.post(f"{live_api}/translate", timeout=30, data={
        "q": page, "source": "auto", "target": "es", "format": "html", "api_key": api_key})
    translated = reply.json()["translatedText"]
    assert translated.startswith('<div class="note" title="The dog">')
    assert translated.endswith("</div><!-- the house -->")
    assert "perro" in translated and "gato" in translated and "&amp;" in translated and "&lt;3" in translated
    assert reply.json()["detectedLanguage"]["language"] == "en"


def test_alternatives_are_an_empty_list_as_apertium_gives_one_translation(live_api, api_key, running_worker):
    one = requests.post(f"{live_api}/translate", timeout=30, json={
        "q": "The cat is black.", "source": "en", "target": "es", "alternatives": 3, "api_key": api_key}).json()
    assert "gato" in one["translatedText"].lower() and one["alternatives"] == []
    batch = requests.post(f"{live_api}/translate", timeout=30, data={
        "q": "The cat is black.", "source": "en", "target": "es", "alternatives": "2", "api_key": api_key}).json()
    assert batch["alternatives"] == []
    two = requests.post(f"{live_api}/translate", timeout=30, json={
        "q": ["The cat.", "The dog."], "source": "en", "target": "es", "alternatives": 1, "api_key": api_key}).json()
    assert two["alternatives"] == [[], []]
    none = requests.post(f"{live_api}/translate", timeout=30, json={
        "q": "The cat.", "source": "en", "target": "es", "alternatives": 0, "api_key": api_key}).json()
    assert "alternatives" not in none and "gato" in none["translatedText"].lower()


# /frontend/settings


def test_frontend_settings_describe_this_installation(live_api, app, translate_pairs_registered, translate_pairs):
    reply = requests.get(f"{live_api}/frontend/settings", timeout=10)
    assert reply.status_code == 200
    settings = reply.json()
    assert set(settings) == {"charLimit", "frontendTimeout", "apiKeys", "keyRequired", "suggestions",
                             "filesTranslation", "supportedFilesFormat", "language"}
    assert settings["charLimit"] == app.config["MAX_TEXT_CHARS"]
    assert settings["apiKeys"] is True and settings["keyRequired"] is True and settings["suggestions"] is False
    assert settings["filesTranslation"] is True and {".txt", ".html"} <= set(settings["supportedFilesFormat"])
    assert settings["language"]["source"] == {"code": "auto", "name": "Auto Detect"}
    target = settings["language"]["target"]
    assert target["code"] in {pair["target"] for pair in translate_pairs}
    assert target["name"] == next(entry["name"] for entry in LibreTranslateAPI(live_api).languages()
                                  if entry["code"] == target["code"])


# /translate_file


def translate_file(live_api, api_key, name, content, **fields):
    form = {"source": "en", "target": "es", "api_key": api_key, **fields}
    return requests.post(f"{live_api}/translate_file", data={k: v for k, v in form.items() if v is not None},
                         files={"file": (name, content)} if name else None, timeout=30)


def test_a_text_file_is_translated_and_served_at_an_absolute_url(live_api, api_key, running_worker):
    reply = translate_file(live_api, api_key, "notes.txt", "The cat is black.\n\nThe house is big.\n".encode())
    assert reply.status_code == 200, reply.text
    url = reply.json()["translatedFileUrl"]
    assert set(reply.json()) == {"translatedFileUrl"} and url.startswith(f"{live_api}/")
    download = requests.get(url, timeout=10)  # no key: the URL is the capability, as in LibreTranslate
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert download.headers["Content-Disposition"] == 'attachment; filename="notes.txt"'
    text = download.content.decode()
    assert "gato" in text and "casa" in text and text.count("\n\n") == 1


def test_an_html_file_keeps_its_markup(live_api, api_key, running_worker):
    page = '<html><head><title>The cat</title></head><body><p class="x">The <b>cat</b> is black.</p></body></html>'
    reply = translate_file(live_api, api_key, "page.html", page.encode(), source="auto")
    assert reply.status_code == 200, reply.text
    download = requests.get(reply.json()["translatedFileUrl"], timeout=10)
    assert download.headers["Content-Type"] == "text/html; charset=utf-8"
    assert download.text == ('<html><head><title>El gato</title></head><body><p class="x">El <b>gato</b> es negro.'
                             '</p></body></html>')


def test_a_docx_file_is_translated_and_keeps_its_bold_run_and_table(live_api, api_key, running_worker):
    import docx

    reply = translate_file(live_api, api_key, "report.docx", docx_bytes())
    assert reply.status_code == 200, reply.text
    assert set(reply.json()) == {"translatedFileUrl"}
    download = requests.get(reply.json()["translatedFileUrl"], timeout=10)
    assert download.status_code == 200
    assert download.headers["Content-Type"].endswith("wordprocessingml.document")
    assert download.headers["Content-Disposition"].startswith("attachment; filename=report.docx")
    document = docx.Document(io.BytesIO(download.content))
    text = " ".join(paragraph.text for paragraph in document.paragraphs)
    assert "perro" in text and "gato" in text and "The dog" not in text
    assert [run.text for p in document.paragraphs for run in p.runs if run.bold] == ["libro"]
    assert "coche" in document.tables[0].cell(0, 0).text


def test_an_odt_file_is_translated(live_api, api_key, running_worker):
    from odf import teletype, text
    from odf.opendocument import load

    reply = translate_file(live_api, api_key, "letter.odt", odt_bytes())
    assert reply.status_code == 200, reply.text
    download = requests.get(reply.json()["translatedFileUrl"], timeout=10)
    paragraphs = [teletype.extractText(p) for p in load(io.BytesIO(download.content)).getElementsByType(text.P)]
    assert "perro" in " ".join(paragraphs)


def _pptx_titles(data: bytes) -> list[str]:
    from pptx import Presentation
    return [slide.shapes.title.text for slide in Presentation(io.BytesIO(data)).slides]


def _xlsx_column(data: bytes) -> list[str]:
    import openpyxl
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [sheet.cell(row=row, column=1).value for row in range(1, len(SENTENCES) + 1)]


RTF = r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard The dog is in the house.\par The cat is black.\par}"


@pytest.mark.parametrize(("name", "content", "read", "content_type"), [
    ("deck.pptx", pptx_bytes(), _pptx_titles, "presentationml.presentation"),
    ("book.xlsx", xlsx_bytes(), _xlsx_column, "spreadsheetml.sheet"),
    ("memo.rtf", RTF.encode(), lambda data: data.decode().split("\\par "), "application/rtf"),
], ids=["pptx", "xlsx", "rtf"])
def test_the_other_document_formats_come_back_translated(live_api, api_key, running_worker, name, content, read,
                                                          content_type):
    reply = translate_file(live_api, api_key, name, content)
    assert reply.status_code == 200, reply.text
    download = requests.get(reply.json()["translatedFileUrl"], timeout=10)
    assert download.status_code == 200 and content_type in download.headers["Content-Type"]
    texts = " ".join(read(download.content))
    assert "perro" in texts and "gato" in texts and "The dog" not in texts, texts


def test_the_download_of_a_document_needs_its_own_name(live_api, api_key, running_worker):
    reply = translate_file(live_api, api_key, "report.docx", docx_bytes())
    url = reply.json()["translatedFileUrl"]
    assert requests.get(url.replace("report.docx", "other.docx"), timeout=10).status_code == 404


@pytest.mark.parametrize(("name", "content", "fields", "message"), [
    ("report.docx", b"PK\x03\x04", {}, "the Word document (.docx) is damaged"),
    ("photo.docx", png_bytes(), {}, "its bytes are a PNG image"),
    ("bomb.docx", zip_bomb_docx(), {}, "zip bomb"),
    ("xxe.docx", xxe_docx(), {}, "DTD"),
    ("program.exe", b"MZ\x90\x00", {}, "file format not supported; supported formats: .docx, .htm, .html, .odp, "
                                        ".odt, .pptx, .rtf, .txt, .xlsx"),
    (None, None, {}, "Invalid request: missing file parameter"),
    ("notes.txt", b"Hello", {"source": None}, "Invalid request: missing source parameter"),
    ("notes.txt", b"Hello", {"target": None}, "Invalid request: missing target parameter"),
    ("notes.txt", "caf\u00e9".encode("latin-1"), {}, "not UTF-8"),
    ("notes.txt", b"  \n", {}, "Invalid request: empty file"),
    ("notes.txt", b"Hello", {"target": "xx"}, "unknown language code"),
])
def test_bad_file_requests_get_libretranslates_error_shape(live_api, api_key, translate_pairs_registered,
                                                            name, content, fields, message):
    reply = translate_file(live_api, api_key, name, content, **fields)
    assert reply.status_code == 400 and set(reply.json()) == {"error"}
    assert message in reply.json()["error"]


def test_translate_file_needs_a_key(live_api, translate_pairs_registered):
    reply = translate_file(live_api, "cvk_not-a-key", "notes.txt", b"Hello")
    assert reply.status_code == 403 and reply.json() == {"error": "Invalid API key"}


@pytest.mark.parametrize("job_id", [lambda: str(uuid.uuid4()), lambda: str(uuid.uuid1()), lambda: "not-a-uuid"])
def test_downloading_an_unknown_file_is_404(client, job_id):
    reply = client.get(f"/download_file/{job_id()}/notes.txt")
    assert reply.status_code == 404 and reply.json == {"error": "File not found"}


def test_a_plain_translate_job_is_not_a_downloadable_file(live_api, api_key, running_worker, app):
    text = f"The cat is black {uuid.uuid4().hex}."
    assert requests.post(f"{live_api}/translate", timeout=30, json={
        "q": text, "source": "en", "target": "es", "api_key": api_key}).status_code == 200
    with app.app_context():
        job_id = handle.session.query(Job.id).filter(Job.params["text"].as_string() == text).scalar()
    assert requests.get(f"{live_api}/download_file/{job_id}/notes.txt", timeout=10).status_code == 404


def test_no_answer_in_time_is_504_and_the_job_is_cancelled(client, app, api_key, translate_pairs_registered,
                                                            monkeypatch):
    monkeypatch.setitem(app.config, "LIBRETRANSLATE_WAIT_SECONDS", 0.3)
    text = f"Nobody runs this job {uuid.uuid4().hex}."
    reply = client.post("/translate", json={"q": text, "source": "en", "target": "es", "api_key": api_key})
    assert reply.status_code == 504 and "did not finish" in reply.json["error"]
    with app.app_context():
        job = handle.session.query(Job).filter(Job.params["text"].as_string() == text).one()
        assert job.status == "cancelled"
