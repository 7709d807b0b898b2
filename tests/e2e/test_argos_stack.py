"""The Argos engine in `make up`'s stack: the API process installs a test-built package, the translate
worker process (started by scripts/up.sh) announces it without a restart, translates, and drops it."""
from __future__ import annotations

import uuid

import requests

from tests.argos_package import cached_package
from tests.conftest import RUN_DIR, wait_for

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

    assert requests.delete(f"{base}{PACKAGES}/argos-la-en", headers=admin, timeout=60).status_code == 204
    wait_for(lambda: engines_of(base, "la", "en") is None, timeout=60, message="the worker to drop la-en")
