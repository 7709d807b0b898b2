"""Both docs pages in a real browser (headless Chromium) against the whole stack behind the gateway.

A person opens /docs or /auth/docs: every operation of the document is shown, nothing fails and
nothing is fetched from another origin. "Authorize" logs in with the OAuth2 password flow (or takes
an API key) and "Try it out" runs a translation job that the API then reports as succeeded.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import STRONG_PASSWORD, wait_for
from tests.e2e.conftest import SCREENSHOTS

METHODS = ("get", "put", "post", "delete", "patch")
SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "postman" / "samples"


def _operations(document: dict) -> int:
    return sum(1 for item in document["paths"].values() for method in item if method in METHODS)


def _open_docs(tab, base: str, page_path: str) -> list[str]:
    """Open a docs page, wait until Swagger UI has drawn its operations; the URLs the page requested."""
    requested: list[str] = []
    tab.page.on("request", lambda request: requested.append(request.url))
    tab.page.goto(base + page_path)
    tab.page.wait_for_selector(".opblock", timeout=30_000)
    return requested


def _register(base: str) -> tuple[str, str]:
    """A new account through the gateway, as a person registers; its access token for the API checks."""
    name = f"docs{uuid.uuid4().hex[:8]}"
    reply = requests.post(f"{base}/auth/v1/register", timeout=10, json={
        "username": name, "email": f"{name}@example.com", "password": STRONG_PASSWORD})
    assert reply.status_code == 201, reply.text
    login = requests.post(f"{base}/auth/v1/login", json={"username": name, "password": STRONG_PASSWORD}, timeout=10)
    return name, login.json()["access_token"]


def _authorize(tab, scheme: str, values: dict[str, str]) -> None:
    """Fill one scheme's box of the Authorize dialog (the box that names ``scheme``), press its Authorize."""
    page = tab.page
    page.click("button.authorize")
    box = page.locator(".auth-container", has_text=scheme)
    for selector, value in values.items():
        box.locator(selector).fill(value)
    box.locator("button.authorize").click()
    box.locator("button:has-text('Logout')").wait_for(timeout=10_000)
    page.click("button.close-modal")


def _try_translate(tab, text: str) -> dict:
    """Try it out on the translate submit; the job the page shows in its answer."""
    operation = tab.page.locator(".opblock", has=tab.page.locator('[data-path="/api/v1/jobs/translate"]'))
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("textarea.body-param__text").fill(
        json.dumps({"text": text, "source_lang": "en", "target_lang": "es"}))
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status")
    status.wait_for(timeout=15_000)
    assert status.inner_text().strip() == "202"
    return json.loads(operation.locator(".live-responses-table .response-col_description pre").first.inner_text())


def _succeeded(base: str, token: str, job_id: str) -> dict:
    """Follow the job through the API until it has ended; its final view."""
    def ended():
        job = requests.get(f"{base}/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"},
                           timeout=10).json()
        return job if job["status"] not in ("queued", "running", "retrying") else None
    return wait_for(ended, timeout=60, interval=0.5, message="the job tried from the docs page to end")


@pytest.mark.parametrize("page_path, document_path", [("/docs", "/openapi.json"),
                                                      ("/auth/docs", "/auth/openapi.json")])
def test_a_docs_page_shows_every_operation_and_asks_nothing_of_another_origin(stack, tab, page_path,
                                                                              document_path):
    document = requests.get(stack["base"] + document_path, timeout=10).json()
    requested = _open_docs(tab, stack["base"], page_path)
    tab.page.wait_for_load_state("networkidle")
    shown = tab.page.locator(".opblock").count()
    tab.screenshot(f"docs{page_path.replace('/', '-')}")
    assert shown == _operations(document) > 10
    assert tab.page.locator(".information-container .title").inner_text().startswith(document["info"]["title"])
    ours = urlsplit(stack["base"]).netloc
    assert requested and all(urlsplit(url).netloc == ours for url in requested), requested
    assert tab.page.locator(".errors-wrapper").count() == 0


def test_the_public_document_leaves_out_the_worker_api_and_tags_the_faces(stack):
    document = requests.get(stack["base"] + "/openapi.json", timeout=10).json()
    assert not [path for path in document["paths"] if path.startswith("/internal")]
    tags = {path: {tag for method in METHODS for tag in operations.get(method, {}).get("tags", [])}
            for path, operations in document["paths"].items()}
    assert tags["/v1/audio/transcriptions"] == {"OpenAI"} and tags["/translate"] == {"LibreTranslate"}
    assert "/compat/nevisa" in document["info"]["description"]
    # The gateway does not route the operators' document.
    assert requests.get(stack["base"] + "/internal/openapi.json", timeout=10).status_code == 404


def test_a_file_kind_is_a_form_with_its_choices_and_try_it_out_converts_a_file(stack, tab):
    name, token = _register(stack["base"])
    _open_docs(tab, stack["base"], "/docs")
    _authorize(tab, "OAuth2", {"#oauth_username": name, "#oauth_password": STRONG_PASSWORD})
    operation = tab.page.locator(".opblock", has=tab.page.locator('[data-path="/api/v1/jobs/convert"]'))
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    target = operation.locator("tr:has(.parameter__name:has-text('target')) select")
    assert {"mp4", "mp3", "wav", "png"} <= set(target.locator("option").all_inner_texts())
    target.select_option("wav")
    operation.locator("input[type=file]").set_input_files(str(SAMPLES / "hello.mp3"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    operation.locator(".opblock-body").screenshot(path=str(SCREENSHOTS / "docs-convert-form.png"))
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status")
    status.wait_for(timeout=15_000)
    assert status.inner_text().strip() == "202"
    job = json.loads(operation.locator(".live-responses-table .response-col_description pre").first.inner_text())
    assert job["params"]["target"] == "wav" and job["input"]["filename"] == "hello.mp3"
    ended = _succeeded(stack["base"], token, job["id"])
    assert ended["status"] == "succeeded", ended


def test_authorize_with_the_password_flow_then_try_it_out_runs_a_translation(stack, tab):
    name, token = _register(stack["base"])
    _open_docs(tab, stack["base"], "/docs")
    _authorize(tab, "OAuth2", {"#oauth_username": name, "#oauth_password": STRONG_PASSWORD})
    tab.screenshot("docs-authorized")
    job = _try_translate(tab, "The cat is black.")
    tab.screenshot("docs-tried-translate")
    assert job["kind"] == "translate" and job["status"] in ("queued", "running", "succeeded")
    ended = _succeeded(stack["base"], token, job["id"])
    assert ended["status"] == "succeeded", ended
    result = requests.get(f"{stack['base']}/api/v1/jobs/{job['id']}/result",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert "gato" in json.dumps(result).lower()


def test_an_api_key_authorizes_try_it_out_too(stack, tab):
    _, token = _register(stack["base"])
    key = requests.post(f"{stack['base']}/auth/v1/api-keys", json={"name": "docs page"},
                        headers={"Authorization": f"Bearer {token}"}, timeout=10).json()["key"]
    _open_docs(tab, stack["base"], "/docs")
    sent: list[dict] = []
    tab.page.on("request", lambda request: sent.append(request.headers)
                if request.url.endswith("/api/v1/jobs/translate") else None)
    _authorize(tab, "X-API-Key", {"input": key})
    job = _try_translate(tab, "The dog is white.")
    assert sent and sent[0].get("x-api-key") == key and "authorization" not in sent[0]
    assert _succeeded(stack["base"], token, job["id"])["status"] == "succeeded"
