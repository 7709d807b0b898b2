"""The Argos engine in `make up`'s stack: the API process installs a test-built package, the translate
worker process (started by scripts/up.sh) announces it without a restart, translates a text and a
.docx (natively and by LibreTranslate's /translate_file, through the gateway), and drops it."""
from __future__ import annotations

import io
import uuid
import zipfile

import requests

from services.translate_worker.argos_engine import ArgosTranslator
from tests.argos_package import cached_package
from tests.conftest import RUN_DIR, wait_for
from tests.document_samples import BOLD_WORD, SENTENCES, docx_bytes

PACKAGES = "/api/v1/admin/translate/packages"


def login(base: str, username: str, password: str) -> dict[str, str]:
    token = requests.post(f"{base}/auth/v1/login", json={"username": username, "password": password},
                          timeout=60).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def engines_of(base: str, source: str, target: str):
    pairs = requests.get(f"{base}/api/v1/languages", timeout=60).json()["pairs"]
    return next((pair["engines"] for pair in pairs if (pair["source"], pair["target"]) == (source, target)), None)


def test_an_uploaded_package_is_served_by_the_running_worker_then_removed(stack):
    base = stack["base"]
    admin = login(base, "boss", "Stack-admin-pass-77")
    name = f"argos{uuid.uuid4().hex[:6]}"
    assert requests.post(f"{base}/auth/v1/register", timeout=60, json={
        "username": name, "email": f"{name}@example.com", "password": "correct-horse-42"}).status_code == 201
    user = login(base, name, "correct-horse-42")

    reply = requests.post(f"{base}{PACKAGES}", headers=admin, timeout=60,
                          files={"file": ("la-en.argosmodel", cached_package(RUN_DIR), "application/zip")})
    assert reply.status_code == 201, reply.text
    wait_for(lambda: engines_of(base, "la", "en") == ["argos"], timeout=60, message="the worker to announce la-en")

    job = requests.post(f"{base}/api/v1/jobs/translate", headers=user, timeout=60, json={
        "text": "Where is the railway station, please?", "source_lang": "la", "target_lang": "en",
        "engine": "argos"}).json()
    done = wait_for(lambda: (body := requests.get(f"{base}/api/v1/jobs/{job['id']}", headers=user,
                                                   timeout=60).json())["status"] in ("succeeded", "failed") and body,
                    timeout=60, message="the argos job to finish")
    assert done["status"] == "succeeded", done
    result = requests.get(f"{base}/api/v1/jobs/{job['id']}/result", headers=user, timeout=60).json()["result"]
    assert result["translated_text"].strip() and result["engines"] == ["argos"]

    # The same package in this process says what the worker's model gives for each text on its own.
    local = RUN_DIR / f"argos-local-{name}"
    with zipfile.ZipFile(io.BytesIO(cached_package(RUN_DIR))) as archive:
        archive.extractall(local)
    argos = ArgosTranslator(local)
    argos.refresh()

    def alone(text: str) -> str:
        return argos.translate(text, "la", "en")[0]

    assert result["translated_text"] == alone("Where is the railway station, please?")
    job = requests.post(f"{base}/api/v1/jobs/translate", headers=user, timeout=60,
                        data={"source_lang": "la", "target_lang": "en", "engine": "argos"},
                        files={"file": ("notes.docx", docx_bytes())}).json()
    done = wait_for(lambda: (body := requests.get(f"{base}/api/v1/jobs/{job['id']}", headers=user,
                                                   timeout=60).json())["status"] in ("succeeded", "failed") and body,
                    timeout=120, message="the argos document job to finish")
    assert done["status"] == "succeeded", done
    native = requests.get(f"{base}{done['artifacts'][0]['url']}", headers=user, timeout=60).content
    key = requests.post(f"{base}/auth/v1/api-keys", headers=user, json={"name": "lt"}, timeout=60).json()["key"]
    reply = requests.post(f"{base}/translate_file", timeout=120, data={"source": "la", "target": "en", "api_key": key},
                          files={"file": ("report.docx", docx_bytes())})
    assert reply.status_code == 200, reply.text
    libre = requests.get(reply.json()["translatedFileUrl"], timeout=60).content
    import docx
    for data in (native, libre):
        document = docx.Document(io.BytesIO(data))
        assert [p.text for p in document.paragraphs[:len(SENTENCES)]] == [alone(s) for s, _ in SENTENCES]
        assert [run.text for p in document.paragraphs for run in p.runs if run.bold] == [alone(BOLD_WORD)]
        assert len(document.tables) == 1 and len(document.inline_shapes) == 1

    assert requests.delete(f"{base}{PACKAGES}/argos-la-en", headers=admin, timeout=60).status_code == 204
    wait_for(lambda: engines_of(base, "la", "en") is None, timeout=60, message="the worker to drop la-en")
