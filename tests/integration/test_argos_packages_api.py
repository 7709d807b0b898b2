"""Argos end to end: a package built at test time is installed through the admin API, announced by a
real translate worker (RabbitMQ, PostgreSQL, argostranslate), translates a job, and is removed."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
import requests

from services.translate_worker.runs import xml_text
from tests.argos_package import cached_package
from tests.conftest import RUN_DIR, wait_for
from tests.document_samples import BOLD_WORD, SENTENCES, TABLE, docx_bytes

PACKAGES = "/api/v1/admin/translate/packages"


@pytest.fixture(scope="session")
def argos_package() -> bytes:
    """A la->en package, built once per run and kept under the run's directory."""
    return cached_package(RUN_DIR)


@pytest.fixture
def argos_worker(live_api, relay, start_worker):
    """A real translate worker (Apertium and the Argos directory) that rechecks its catalog often."""
    from services.translate_worker.translate import default_translator
    translators = default_translator()
    return start_worker(capabilities=lambda: {"pairs": translators.supported_pairs()},
                        recheck_capabilities_every=0.2)


def upload(client, user, data: bytes, filename="pkg.argosmodel"):
    return client.post(PACKAGES, headers=user.headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), filename)})


def pair(client, source, target):
    pairs = client.get("/api/v1/languages").json["pairs"]
    return next((entry for entry in pairs if (entry["source"], entry["target"]) == (source, target)), None)


def remove_and_wait(client, admin):
    """Remove the package and wait until the worker no longer announces it: a worker stopped before
    that would leave its last catalog (with la-en) live until its heartbeat expires, for the next test."""
    client.delete(f"{PACKAGES}/argos-la-en", headers=admin.headers)
    wait_for(lambda: pair(client, "la", "en") is None, timeout=30, message="the worker to drop la-en")


def finished(client, user, job_id):
    url = f"/api/v1/jobs/{job_id}"
    job = wait_for(lambda: (body := client.get(url, headers=user.headers).json)["status"]
                   in ("succeeded", "failed") and body, timeout=60, message="the job to finish")
    assert job["status"] == "succeeded", job
    return client.get(f"{url}/result", headers=user.headers).json["result"]


def test_install_announce_translate_and_remove(client, admin, make_user, argos_worker, argos_package, live_api):
    user = make_user()
    installed = upload(client, admin, argos_package)
    assert installed.status_code == 201, installed.json
    assert installed.json["name"] == "argos-la-en" and installed.json["source"] == "la"
    assert installed.json["size_bytes"] > 0 and installed.json["replaced"] is False
    listed = client.get(PACKAGES, headers=admin.headers).json["packages"]
    assert [entry["name"] for entry in listed] == ["argos-la-en"]

    entry = wait_for(lambda: pair(client, "la", "en"), timeout=30, message="the worker to announce la-en")
    assert entry["engines"] == ["argos"]
    crossing = pair(client, "la", "es")
    assert crossing["via"] == ["en"] and [hop["engine"] for hop in crossing["route"]] == ["argos", "apertium"]
    libre = {item["code"]: item for item in requests.get(f"{live_api}/languages", timeout=10).json()}
    assert "en" in libre["la"]["targets"] and libre["la"]["engines"]["en"] == ["argos"]

    reply = client.post("/api/v1/jobs/translate", headers=user.headers, json={
        "text": "The cat is black.", "source_lang": "la", "target_lang": "en", "engine": "argos",
        "alternatives": 2})
    assert reply.status_code == 202, reply.json
    result = finished(client, user, reply.json["id"])
    assert result["translated_text"].strip() and result["engines"] == ["argos"]
    assert len(result["alternatives"]) <= 2 and result["translated_text"] not in result["alternatives"]

    reply = client.post("/api/v1/jobs/translate", headers=user.headers, json={
        "text": "The cat is black.", "source_lang": "la", "target_lang": "es"})
    result = finished(client, user, reply.json["id"])
    assert result["engines"] == ["argos", "apertium"] and result["translated_text"].strip()

    refused = client.post("/api/v1/jobs/translate", headers=user.headers, json={
        "text": "The cat is black.", "source_lang": "en", "target_lang": "es", "engine": "argos"})
    assert refused.status_code == 400 and "engines that do: apertium" in refused.json["message"]
    html = client.post("/api/v1/jobs/translate", headers=user.headers, json={
        "text": '<p class="x">The cat is black.</p>', "source_lang": "la", "target_lang": "en", "format": "html"})
    assert html.status_code == 202, html.json
    result = finished(client, user, html.json["id"])
    expected = xml_text(argos_alone("The cat is black."))
    assert result["translated_text"] == f'<p class="x">{expected}</p>' and result["engines"] == ["argos"]

    assert client.delete(f"{PACKAGES}/argos-la-en", headers=admin.headers).status_code == 204
    wait_for(lambda: pair(client, "la", "en") is None, timeout=30, message="the worker to drop la-en")
    assert client.get(PACKAGES, headers=admin.headers).json["packages"] == []
    assert client.delete(f"{PACKAGES}/argos-la-en", headers=admin.headers).status_code == 404


def test_libretranslate_alternatives_come_from_argos_hypotheses(client, admin, argos_worker, argos_package,
                                                                 live_api, auth_client, make_user):
    assert upload(client, admin, argos_package).status_code == 201
    try:
        wait_for(lambda: pair(client, "la", "en"), timeout=30, message="the worker to announce la-en")
        key = auth_client.post("/auth/v1/api-keys", headers=make_user().headers, json={"name": "lt"}).json["key"]
        reply = requests.post(f"{live_api}/translate", timeout=60, json={
            "q": "The cat is black.", "source": "la", "target": "en", "alternatives": 3, "api_key": key}).json()
        assert reply["translatedText"].strip(), reply
        assert isinstance(reply["alternatives"], list) and 1 <= len(reply["alternatives"]) <= 3
        assert reply["translatedText"] not in reply["alternatives"]
    finally:
        remove_and_wait(client, admin)


def argos_alone(text: str) -> str:
    """What the worker's Argos engine (in this process) gives for ``text`` on its own."""
    from services.translate_worker.translate import default_translator
    translators = default_translator()
    translators.refresh()
    return translators.argos.translate(text, "la", "en")[0]


def test_documents_through_argos_natively_and_by_libretranslate_translate_file(
        client, admin, make_user, argos_worker, argos_package, live_api, auth_client):
    import docx
    assert upload(client, admin, argos_package).status_code == 201
    try:
        wait_for(lambda: pair(client, "la", "en"), timeout=30, message="the worker to announce la-en")
        user = make_user()
        reply = client.post("/api/v1/jobs/translate", headers=user.headers, content_type="multipart/form-data",
                            data={"source_lang": "la", "target_lang": "en", "engine": "argos",
                                  "file": (io.BytesIO(docx_bytes()), "notes.docx")})
        assert reply.status_code == 202, reply.json
        result = finished(client, user, reply.json["id"])
        assert result["engines"] == ["argos"] and result["artifact"] == "notes.docx"
        job = client.get(f"/api/v1/jobs/{reply.json['id']}", headers=user.headers).json
        native = client.get(job["artifacts"][0]["url"], headers=user.headers).data
        document = docx.Document(io.BytesIO(native))
        assert [p.text for p in document.paragraphs[:len(SENTENCES)]] == [argos_alone(s) for s, _ in SENTENCES]
        assert [run.text for p in document.paragraphs for run in p.runs if run.bold] == [argos_alone(BOLD_WORD)]
        assert document.tables[0].cell(0, 0).text == argos_alone(TABLE[0][0]) and len(document.inline_shapes) == 1

        # LibreTranslate's /translate_file on a pair only Argos serves (the default route: no engine named).
        key = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={"name": "lt"}).json["key"]
        reply = requests.post(f"{live_api}/translate_file", timeout=60,
                              data={"source": "la", "target": "en", "api_key": key},
                              files={"file": ("report.docx", docx_bytes())})
        assert reply.status_code == 200, reply.text
        download = requests.get(reply.json()["translatedFileUrl"], timeout=10)
        assert download.status_code == 200
        libre = docx.Document(io.BytesIO(download.content))
        assert [p.text for p in libre.paragraphs] == [p.text for p in document.paragraphs]
        assert [run.bold for p in libre.paragraphs for run in p.runs] == \
            [run.bold for p in document.paragraphs for run in p.runs]
        reply = requests.post(f"{live_api}/translate_file", timeout=60,
                              data={"source": "la", "target": "en", "api_key": key},
                              files={"file": ("page.html", b"<p>The cat is black.</p>")})
        assert reply.status_code == 200, reply.text
        page = requests.get(reply.json()["translatedFileUrl"], timeout=10).text
        assert page == f"<p>{xml_text(argos_alone('The cat is black.'))}</p>"
    finally:
        remove_and_wait(client, admin)


def zipped(entries: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


METADATA = json.dumps({"from_code": "la", "to_code": "en", "package_version": "1.0"})


@pytest.mark.parametrize("data, message", [
    (b"this is not a zip at all", "not a zip"),
    (zipped({"t/model/model.bin": b"1", "t/sentencepiece.model": b"2"}), "lacks metadata.json"),
    (zipped({"t/metadata.json": METADATA, "t/model/model.bin": b"1", "t/sentencepiece.model": b"2",
             "t/../../escaped.txt": "owned"}), "outside its folder"),
], ids=["not-a-zip", "no-metadata", "path-traversal"])
def test_bad_packages_are_refused_and_nothing_is_written(client, admin, data, message):
    from shared.config import Config
    directory = Config().ARGOS_PACKAGES_DIR
    before = sorted(path.name for path in directory.iterdir()) if directory.exists() else []
    reply = upload(client, admin, data)
    assert reply.status_code == 400 and message in reply.json["message"]
    assert sorted(path.name for path in directory.iterdir()) == before
    assert not (directory.parent / "escaped.txt").exists() and not (RUN_DIR / "escaped.txt").exists()


def test_only_administrators_manage_packages(client, make_user, argos_package):
    user = make_user()
    assert upload(client, user, argos_package).status_code == 403
    assert client.get(PACKAGES, headers=user.headers).status_code == 403
    assert client.delete(f"{PACKAGES}/argos-la-en", headers=user.headers).status_code == 403
