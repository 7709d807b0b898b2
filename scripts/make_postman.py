"""Generate the Postman collections (``make postman``) into docs/postman/.

Each collection is a scenario that runs green, in order, in newman (or Postman's runner) against a live
stack: register (a 409 "already registered" passes, so a second run does too), log in, submit real
files from docs/postman/samples/ (paths relative to docs/postman: newman's ``--working-dir``), poll
until the job has ended, read its result and exports, clean up, log out last. Ids travel between
requests in collection variables; every request asserts its status code and the fields that matter.

- conveyor.postman_collection.json: the native API and auth service.
- compat-<surface>.postman_collection.json: each seed surface under /compat/<surface>.
- openai-audio / libretranslate.postman_collection.json: the OpenAI and LibreTranslate faces.

Variables the runner sets: baseUrl, username, password, email (one account, letters only in its
name and a password with upper and lower case, a digit and a sign, so the lecture surface takes it
too), and where a collection says so adminUsername, adminPassword, adminToken (CONVEYOR_ADMIN_TOKEN)
and workerToken (CONVEYOR_WORKER_TOKEN). tests/e2e/test_postman_newman.py runs them all in newman.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "postman"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
ACTIVE_NATIVE = ["queued", "running", "retrying"]
MAX_POLLS = 90  # one a second: a minute and a half for a job to end

# The native routes the native collection leaves out, and why (tests/unit/test_postman.py holds the
# collection to every other user-facing route of the OpenAPI documents).
NATIVE_SKIPPED = {
    ("POST", "/auth/v1/password"): "changing the password would break the next run's login",
    ("PATCH", "/auth/v1/users/{user_id}"): "an admin edit of another account; no account to spare",
    ("GET", "/api/v1/jobs/{job_id}/events"): "a server-sent event stream, which Postman cannot assert on",
    ("POST", "/api/v1/jobs/{job_id}/webhooks/{delivery_id}/redeliver"): "needs a delivered webhook",
    ("GET", "/.well-known/jwks.json"): "served by the gateway, the same document as /auth/v1/jwks.json",
    ("POST", "/api/v1/admin/translate/packages"): "needs an .argosmodel file; none ships "
                                                 "(tests/integration/test_argos_packages_api.py builds one)",
    ("DELETE", "/api/v1/admin/translate/packages/{name}"): "needs an installed Argos package",
    ("POST", "/api/v1/admin/jobs/{job_id}/retry"): "needs a failed job (tests/integration/test_admin_retry.py)",
    # The console's browser session: HttpOnly cookies and a CSRF header (tests/e2e/test_browser_console.py).
    ("POST", "/auth/v1/session"): "the web console's cookie login; API clients use /auth/v1/login",
    ("POST", "/auth/v1/session/refresh"): "the web console's cookie refresh; API clients use /auth/v1/refresh",
    ("DELETE", "/auth/v1/session"): "the web console's cookie logout; API clients use /auth/v1/logout",
}


def build_apps():
    """The API and auth apps, built with throw-away keys (no database connection is made)."""
    os.environ.setdefault("CONVEYOR_DATA_DIR", tempfile.mkdtemp(prefix="conveyor-postman-"))
    sys.path.insert(0, str(ROOT))
    from services.api import create_app as create_api
    from services.auth import create_app as create_auth
    from shared.config import Config
    from shared.keys import ensure_signing_keys
    ensure_signing_keys(Config())
    return create_api(), create_auth()


# --- building blocks ------------------------------------------------------------------------------

def url(path: str, query: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """A Postman URL object that keeps a trailing slash (a raw URL ending in '/', a path ending in "")."""
    raw = "{{baseUrl}}" + path
    result: dict[str, Any] = {"raw": raw, "host": ["{{baseUrl}}"], "path": path.lstrip("/").split("/")}
    if query:
        result["raw"] += "?" + "&".join(f"{key}={value}" for key, value in query.items())
        result["query"] = [{"key": key, "value": value} for key, value in query.items()]
    return result


def bearer(variable: str = "token") -> dict[str, Any]:
    return {"type": "bearer", "bearer": [{"key": "token", "value": "{{%s}}" % variable, "type": "string"}]}


def header_auth(value: str) -> dict[str, Any]:
    """An Authorization header of any scheme (``Token {{token}}`` for the DRF surfaces)."""
    return {"type": "apikey", "apikey": [{"key": "key", "value": "Authorization", "type": "string"},
                                         {"key": "value", "value": value, "type": "string"},
                                         {"key": "in", "value": "header", "type": "string"}]}


NOAUTH = {"type": "noauth"}


def json_body(body: Any) -> dict[str, Any]:
    """A JSON body; the string "{{#name}}" becomes the variable's value unquoted (a number)."""
    raw = re.sub(r'"\{\{#([A-Za-z]+)\}\}"', r"{{\1}}", json.dumps(body, indent=2, ensure_ascii=False))
    return {"mode": "raw", "raw": raw,
            "options": {"raw": {"language": "json"}}}


def form_body(fields: dict[str, str], files: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """multipart/form-data: text fields and files (paths relative to docs/postman)."""
    parts = [{"key": key, "value": value, "type": "text"} for key, value in fields.items()]
    parts += [{"key": key, "type": "file", "src": src} for key, src in (files or {}).items()]
    return {"mode": "formdata", "formdata": parts}


def urlencoded_body(fields: dict[str, str]) -> dict[str, Any]:
    return {"mode": "urlencoded", "urlencoded": [{"key": k, "value": v, "type": "text"} for k, v in fields.items()]}


def file_body(src: str) -> dict[str, Any]:
    return {"mode": "file", "file": {"src": src}}


def status_test(expect: int | Sequence[int]) -> list[str]:
    if isinstance(expect, int):
        return [f"pm.test('status is {expect}', () => pm.response.to.have.status({expect}));"]
    codes = ", ".join(str(code) for code in expect)
    return [f"pm.test('status is one of {codes}', () => pm.expect(pm.response.code).to.be.oneOf([{codes}]));"]


def request(name: str, method: str, path: str, expect: int | Sequence[int], tests: Sequence[str] = (), *,
            query: Optional[dict[str, str]] = None, body: Optional[dict[str, Any]] = None,
            auth: Optional[dict[str, Any]] = None, headers: Optional[dict[str, str]] = None,
            pre: Sequence[str] = ()) -> dict[str, Any]:
    """One request with a test script: the status code, then ``tests`` (JavaScript lines)."""
    req: dict[str, Any] = {"method": method, "header": [{"key": k, "value": v} for k, v in (headers or {}).items()],
                           "url": url(path, query)}
    if body is not None:
        req["body"] = body
    if auth is not None:
        req["auth"] = auth
    events = []
    if pre:
        events.append({"listen": "prerequest", "script": {"type": "text/javascript", "exec": list(pre)}})
    events.append({"listen": "test", "script": {"type": "text/javascript",
                                                "exec": status_test(expect) + list(tests)}})
    return {"name": name, "event": events, "request": req}


def poll(name: str, path: str, *, done: str, ok: str, ok_title: str, query: Optional[dict[str, str]] = None,
         auth: Optional[dict[str, Any]] = None, counter: str = "pollCount") -> dict[str, Any]:
    """GET ``path`` until ``done`` (a JavaScript expression over ``body``) holds, once a second, at most
    MAX_POLLS times (pm.execution.setNextRequest repeats this request); then assert ``ok`` on the last reply."""
    pre = [f"if (Number(pm.collectionVariables.get('{counter}') || 0) > 0) {{",
           "    setTimeout(() => {}, 1000);  // wait a second between polls",
           "}"]
    tests = ["const body = pm.response.json();",
             f"const polls = Number(pm.collectionVariables.get('{counter}') || 0);",
             f"if (!({done}) && polls < {MAX_POLLS}) {{",
             f"    pm.collectionVariables.set('{counter}', polls + 1);",
             "    pm.execution.setNextRequest(pm.info.requestName);",
             "} else {",
             f"    pm.collectionVariables.set('{counter}', 0);",
             f"    pm.test({json.dumps(ok_title)}, () => {{ {ok}; }});",
             "}"]
    return request(name, "GET", path, 200, tests, query=query, auth=auth, pre=pre)


def folder(name: str, items: list[dict[str, Any]], description: str = "") -> dict[str, Any]:
    result: dict[str, Any] = {"name": name, "item": items}
    if description:
        result["description"] = description
    return result


def collection(name: str, description: str, items: list[dict[str, Any]], auth: dict[str, Any],
               captured: Iterable[str]) -> dict[str, Any]:
    variables = [{"key": "baseUrl", "value": "http://127.0.0.1:8000"}]
    variables += [{"key": key, "value": ""} for key in sorted(set(captured) | {"token", "pollCount"})]
    return {"info": {"name": name, "description": description, "schema": SCHEMA},
            "auth": auth, "variable": variables, "item": items}


def capture(variable: str, expression: str) -> str:
    return f"pm.collectionVariables.set('{variable}', {expression});"


def expect(expression: str, title: str) -> str:
    return f"pm.test({json.dumps(title)}, () => {{ {expression}; }});"


BODY = "const body = pm.response.json();"
VARIABLES_NOTE = ("Run it in newman from docs/postman (file paths are relative to it): newman run "
                  "{file} --working-dir docs/postman --env-var baseUrl=http://127.0.0.1:8000 "
                  "--env-var username=... --env-var password=... --env-var email=...{extra}. The "
                  "account's name must be letters only and its password have upper and lower case "
                  "letters, a digit and a sign (the lecture surface's rules), so one account runs "
                  "every collection.")


def native_register() -> dict[str, Any]:
    return request("Register (201, or 409 when the account exists)", "POST", "/auth/v1/register", (201, 409), [
        BODY,
        "if (pm.response.code === 201) {",
        "    " + expect("pm.expect(body.username).to.eql(pm.variables.get('username'))", "the account is created"),
        "} else {",
        "    " + expect("pm.expect(body.message).to.match(/already registered/)", "the account already exists"),
        "}"], body=json_body({"username": "{{username}}", "email": "{{email}}", "password": "{{password}}"}),
        auth=NOAUTH)


def native_login(name: str = "Log in", variable: str = "token", user: str = "username",
                 password: str = "password") -> dict[str, Any]:
    captures = [capture(variable, "body.access_token")]
    if variable == "token":  # the user's login also keeps the refresh token for the refresh request
        captures.append(capture("refreshToken", "body.refresh_token"))
    return request(name, "POST", "/auth/v1/login", 200, [
        BODY, expect("pm.expect(body.access_token).to.be.a('string').and.not.empty", "an access token"),
        expect("pm.expect(body.token_type).to.match(/bearer/i)", "a bearer token"), *captures],
        body=json_body({"username": "{{%s}}" % user, "password": "{{%s}}" % password}), auth=NOAUTH)


def native_logout(name: str = "Log out (last)", variable: str = "token") -> dict[str, Any]:
    return request(name, "POST", "/auth/v1/logout", 204, [
        expect("pm.expect(pm.response.text()).to.be.empty", "no body")], auth=bearer(variable))


def native_api_key(name: str = "postman") -> dict[str, Any]:
    return request("Create an API key", "POST", "/auth/v1/api-keys", 201, [
        BODY, expect("pm.expect(body.key).to.match(/^cvk_/)", "the key is shown once"),
        capture("apiKey", "body.key"), capture("apiKeyId", "body.id")], body=json_body({"name": name}), auth=bearer())


def native_revoke_key() -> dict[str, Any]:
    return request("Revoke the API key", "DELETE", "/auth/v1/api-keys/{{apiKeyId}}", 204)


# --- the native API ---------------------------------------------------------------------------------

def native_job(kind: str, body: dict[str, Any], ok: str, result_tests: list[str],
               export: Optional[tuple[str, str]] = None) -> list[dict[str, Any]]:
    """Submit, poll, read the result (and an export) of one job of ``kind``; its id is ``<kind>JobId``."""
    job = "{{%sJobId}}" % kind
    items = [request(f"Submit a {kind} job", "POST", f"/api/v1/jobs/{kind}", 202, [
        BODY, expect(f"pm.expect(body.kind).to.eql('{kind}')", "the job's kind"),
        expect(f"pm.expect(body.status).to.be.oneOf({json.dumps(ACTIVE_NATIVE + ['succeeded'])})", "queued"),
        capture(f"{kind}JobId", "body.id")], body=body),
        poll(f"Wait for the {kind} job", f"/api/v1/jobs/{job}",
             done=f"!{json.dumps(ACTIVE_NATIVE)}.includes(body.status)",
             ok=f"pm.expect(body.status).to.eql('succeeded'); {ok}", ok_title=f"the {kind} job succeeded"),
        request(f"The {kind} job's result", "GET", f"/api/v1/jobs/{job}/result", 200,
                [BODY, expect("pm.expect(body.status).to.eql('succeeded')", "succeeded")] + result_tests)]
    if export:
        fmt, check = export
        items.append(request(f"Export the {kind} job as {fmt}", "GET", f"/api/v1/jobs/{job}/export", 200,
                             [expect("pm.expect(pm.response.headers.get('Content-Disposition'))"
                                     f".to.include('.{fmt}')", f"a .{fmt} attachment"), check],
                             query={"format": fmt}))
    return items


def native_pipelines() -> dict[str, Any]:
    """A preset pipeline from upload to its outputs, its steps, stream and subtitles; another one cancelled."""
    pipeline, cancelled = "/api/v1/pipelines/{{pipelineId}}", "/api/v1/pipelines/{{cancelPipelineId}}"
    step_job = "body.steps.find(s => s.name === '%s').job_id"
    return folder("Pipelines", [
        request("Submit a transcribe-translate pipeline", "POST", "/api/v1/pipelines", 202, [
            BODY, expect("pm.expect(body.preset).to.eql('transcribe-translate')", "the preset"),
            expect("pm.expect(body.steps.map(s => s.name)).to.eql(['transcribe', 'translate-es'])",
                   "an asr step, then a translate step reading it"),
            expect(f"pm.expect(body.steps[0].status).to.be.oneOf({json.dumps(ACTIVE_NATIVE)})", "asr queued"),
            expect("pm.expect(body.steps[1].status).to.eql('pending')", "the translation waits for it"),
            capture("pipelineId", "body.id")],
            body=form_body({"preset": "transcribe-translate", "options": '{"target_langs": ["es"]}'},
                           {"file": "samples/hello.mp3"})),
        poll("Wait for the pipeline", pipeline, done="body.status !== 'running'",
             ok="pm.expect(body.status).to.eql('succeeded'); pm.expect(body.progress.percent).to.eql(100); "
                + capture("pipelineAsrJobId", step_job % "transcribe") + " "
                + capture("pipelineTranslateJobId", step_job % "translate-es"),
             ok_title="the pipeline succeeded"),
        request("The pipeline's steps", "GET", pipeline, 200, [
            BODY, expect("pm.expect(body.steps.every(s => s.status === 'succeeded')).to.eql(true)",
                         "every step succeeded"),
            expect("pm.expect(body.steps[1].input).to.eql('transcribe')", "the translation read the transcript"),
            expect("pm.expect(body.steps[1].links.result).to.eql("
                   "'/api/v1/jobs/' + pm.collectionVariables.get('pipelineTranslateJobId') + '/result')",
                   "a link to each step's result"),
            expect("pm.expect(body.input.filename).to.eql('hello.mp3')", "the upload, stored once")]),
        request("The pipeline's steps are jobs in my list", "GET", "/api/v1/jobs", 200, [
            BODY, expect("pm.expect(body.items.filter(j => j.pipeline_id === pm.collectionVariables.get("
                         "'pipelineId')).map(j => j.pipeline_step)).to.eql(['transcribe'])",
                         "the asr step, with its pipeline id")],
            query={"kind": "asr", "page": "1", "per_page": "100"}),
        request("The pipeline's result: the Spanish translation", "GET",
                "/api/v1/jobs/{{pipelineTranslateJobId}}/result", 200, [
                    BODY, expect("pm.expect(body.result.route).to.eql(['en', 'es'])", "English into Spanish"),
                    expect("pm.expect(body.result.translated_text.toLowerCase()).to.include('gato')",
                           "the transcript's cat, in Spanish")]),
        request("The pipeline's Spanish subtitles", "GET", pipeline + "/subtitles/es", 200, [
            expect("pm.expect(pm.response.text()).to.match(/^WEBVTT/)", "a WebVTT file"),
            expect("pm.expect(pm.response.text()).to.include('-->')", "timed cues")], query={"format": "vtt"}),
        request("The pipeline's event stream (it has ended)", "GET", pipeline + "/events", 200, [
            expect("pm.expect(pm.response.headers.get('Content-Type')).to.include('text/event-stream')",
                   "server-sent events"),
            expect("pm.expect(pm.response.text()).to.include('event: end')", "the stream ends with the pipeline"),
            expect("pm.expect(pm.response.text()).to.include('\"succeeded\"')", "its last status")]),
        request("List my pipelines", "GET", "/api/v1/pipelines", 200, [
            BODY, expect("pm.expect(body.items.map(p => p.id)).to.include(pm.collectionVariables.get('pipelineId'))",
                         "the pipeline is listed")], query={"page": "1", "per_page": "20"}),
        request("Retry a succeeded pipeline (409)", "POST", pipeline + "/retry", 409, [
            BODY, expect("pm.expect(body.message).to.match(/cannot retry/i)", "says why")]),
        request("Submit a pipeline to cancel", "POST", "/api/v1/pipelines", 202, [
            BODY, expect("pm.expect(body.steps.length).to.eql(3)", "asr, then Spanish and Catalan"),
            capture("cancelPipelineId", "body.id")],
            body=form_body({"preset": "transcribe-translate", "options": '{"target_langs": ["es", "ca"]}'},
                           {"file": "samples/lecture.mp3"})),
        request("Cancel the pipeline", "POST", cancelled + "/cancel", (200, 409), [
            BODY, "if (pm.response.code === 200) {",
            "    " + expect("pm.expect(body.status).to.eql('cancelled')", "cancelled"),
            "    " + expect("pm.expect(body.steps.filter(s => s.status === 'pending').length).to.be.above(0)",
                            "the translations never start"),
            "} else {  // the workers were quicker than the cancel",
            "    " + expect("pm.expect(body.message).to.match(/cannot cancel/i)", "already finished"),
            "}"]),
        request("Retry the cancelled pipeline", "POST", cancelled + "/retry", (202, 409), [
            BODY, "if (pm.response.code === 202) {",
            "    " + expect("pm.expect(body.run).to.eql(2)", "a second run"),
            "    " + expect("pm.expect(body.status).to.eql('running')", "running again"),
            "} else {  // it had succeeded before the cancel",
            "    " + expect("pm.expect(body.message).to.match(/cannot retry/i)", "says why"),
            "}"]),
        request("Cancel it again", "POST", cancelled + "/cancel", (200, 409), [
            BODY, "if (pm.response.code === 200) {",
            "    " + expect("pm.expect(body.status).to.eql('cancelled')", "cancelled"),
            "} else {",
            "    " + expect("pm.expect(body.message).to.match(/cannot cancel/i)", "already finished"),
            "}"]),
    ], "A preset pipeline (speech to text, then into Spanish) with a real recording: submit, wait, its steps, "
       "result, subtitles and event stream; then one cancelled, retried and cancelled again.")


def native_collection() -> dict[str, Any]:
    samples = {"asr": "samples/hello.mp3", "vision": "samples/shapes.png"}
    account = folder("Account", [
        native_register(),
        native_login(),
        request("Who am I", "GET", "/auth/v1/me", 200, [
            BODY, expect("pm.expect(body.username).to.eql(pm.variables.get('username'))", "the account"),
            expect("pm.expect(body.may_submit).to.eql(true)", "it may submit jobs")]),
        request("Refresh the token pair", "POST", "/auth/v1/refresh", 200, [
            BODY, expect("pm.expect(body.access_token).to.be.a('string').and.not.empty", "a new access token"),
            capture("token", "body.access_token"), capture("refreshToken", "body.refresh_token")],
            auth=bearer("refreshToken")),
        request("Signing keys (JWKS)", "GET", "/auth/v1/jwks.json", 200, [
            BODY, expect("pm.expect(body.keys[0].alg).to.eql('RS256')", "an RS256 key")], auth=NOAUTH),
    ])
    catalog = folder("Catalog", [
        request("Languages", "GET", "/api/v1/languages", 200, [
            BODY, expect("pm.expect(body.pairs).to.be.an('array').that.is.not.empty", "translation pairs")]),
        request("Models", "GET", "/api/v1/models", 200, [
            BODY, expect("pm.expect(pm.response.text()).to.include('whisper')", "speech models are listed")]),
    ])
    jobs = folder("Jobs", [
        *native_job("translate", json_body({"text": "The cat is black.", "source_lang": "en", "target_lang": "es"}),
                    "pm.expect(body.progress.percent).to.eql(100)",
                    [expect("pm.expect(body.result.translated_text.toLowerCase()).to.include('gato')",
                            "the translation")],
                    ("txt", expect("pm.expect(pm.response.text().toLowerCase()).to.include('gato')", "the text"))),
        *native_job("asr", form_body({"language": "en"}, {"file": samples["asr"]}),
                    "pm.expect(body.input.filename).to.eql('hello.mp3')",
                    [expect("pm.expect(body.result.text.toLowerCase()).to.include('cat')", "the transcript"),
                     expect("pm.expect(body.result.words).to.be.an('array').that.is.not.empty", "word times")],
                    ("srt", expect("pm.expect(pm.response.text()).to.include('-->')", "subtitle cues"))),
        request("The asr job's chunks", "GET", "/api/v1/jobs/{{asrJobId}}/chunks", 200, [
            BODY, expect("pm.expect(body).to.be.an('array').that.is.not.empty", "a chunk per piece of audio"),
            expect("pm.expect(body[0].seq).to.be.a('number')", "numbered chunks")]),
        request("The asr job's progress", "GET", "/api/v1/jobs/{{asrJobId}}/progress", 200, [
            BODY, expect("pm.expect(body.percent).to.eql(100)", "done")]),
        request("The asr job's input file", "GET", "/api/v1/jobs/{{asrJobId}}/input", 200, [
            expect("pm.expect(pm.response.headers.get('Content-Type')).to.include('audio/mpeg')", "the MP3"),
            expect("pm.expect(pm.response.responseSize).to.be.above(1000)", "the whole file")]),
        request("The asr job's logs", "GET", "/api/v1/jobs/{{asrJobId}}/logs", 200, [
            BODY, expect("pm.expect(body).to.be.an('array')", "a list of log lines")]),
        *native_job("vision", form_body({}, {"file": samples["vision"]}),
                    "pm.collectionVariables.set('artifactName', body.artifacts[0].name)",
                    [expect("pm.expect(body.result.detections).to.be.an('array')", "detections"),
                     expect("pm.expect(body.result.width).to.eql(160)", "the image's size")],
                    ("csv", expect("pm.expect(pm.response.text()).to.include('label')", "a CSV header"))),
        request("The vision job's annotated image (artifact)", "GET",
                "/api/v1/jobs/{{visionJobId}}/artifacts/{{artifactName}}", 200, [
                    expect("pm.expect(pm.response.headers.get('Content-Type')).to.include('image/')", "an image")]),
        *native_job("convert", form_body({"target": "wav"}, {"file": samples["asr"]}),
                    "pm.expect(body.artifacts[0].name).to.eql('hello.wav')",
                    [expect("pm.expect(body.result.format).to.eql('wav')", "a WAV"),
                     capture("convertArtifact", "body.result.artifact")]),
        request("The converted file (artifact)", "GET", "/api/v1/jobs/{{convertJobId}}/artifacts/{{convertArtifact}}",
                200, [expect("pm.expect(pm.response.headers.get('Content-Type')).to.include('audio/wav')", "a WAV"),
                      expect("pm.expect(pm.response.responseSize).to.be.above(10000)", "the decoded audio")]),
        request("The translate job's webhook deliveries", "GET", "/api/v1/jobs/{{translateJobId}}/webhooks", 200, [
            BODY, expect("pm.expect(body).to.eql([])", "none: the job was sent without a callback_url")]),
        request("List my translate jobs", "GET", "/api/v1/jobs", 200, [
            BODY, expect("pm.expect(body.items.map(j => j.id))"
                         ".to.include(pm.collectionVariables.get('translateJobId'))", "the job is listed"),
            expect("pm.expect(body.items.every(j => j.kind === 'translate')).to.eql(true)", "only translate jobs")],
            query={"kind": "translate", "status": "succeeded", "page": "1", "per_page": "20"}),
        request("My storage and active jobs", "GET", "/api/v1/usage", 200, [
            BODY, expect("pm.expect(body.storage.used_bytes).to.be.above(0)", "the uploads count"),
            expect("pm.expect(body.jobs.limit).to.be.above(0)", "the active-job limit")]),
        request("Cancel a finished job (409)", "POST", "/api/v1/jobs/{{translateJobId}}/cancel", 409, [
            BODY, expect("pm.expect(body.message).to.match(/cannot cancel/i)", "says why")]),
        request("Submit a job to cancel", "POST", "/api/v1/jobs/asr", 202, [
            BODY, capture("cancelJobId", "body.id")],
            body=form_body({"language": "en"}, {"file": "samples/lecture.mp3"})),
        request("Cancel it", "POST", "/api/v1/jobs/{{cancelJobId}}/cancel", (200, 409), [
            BODY, "if (pm.response.code === 200) {",
            "    " + expect("pm.expect(body.status).to.be.oneOf(['cancelled', 'partial'])", "cancelled"),
            "} else {  // the worker was quicker than the cancel",
            "    " + expect("pm.expect(body.message).to.match(/cannot cancel/i)", "already finished"),
            "}"]),
    ] + [request(f"Delete the {kind} job", "DELETE", "/api/v1/jobs/{{%sJobId}}" % kind, 204)
         for kind in ("translate", "asr", "vision", "convert", "cancel")] + [
        request("A deleted job is gone", "GET", "/api/v1/jobs/{{translateJobId}}", 404, [
            BODY, expect("pm.expect(body.message).to.eql('Job not found.')", "not found")]),
    ])
    keys = folder("API keys and webhooks", [
        native_api_key(),
        request("List API keys", "GET", "/auth/v1/api-keys", 200, [
            BODY, expect("pm.expect(body.map(k => k.id)).to.include(pm.collectionVariables.get('apiKeyId'))",
                         "the new key is listed"),
            expect("pm.expect(body.every(k => !('key' in k))).to.eql(true)", "keys are never shown again")]),
        request("Call the API with the key", "GET", "/api/v1/jobs", 200, [
            BODY, expect("pm.expect(body.items).to.be.an('array')", "a page of jobs")],
            auth=header_auth("Bearer {{apiKey}}")),
        native_revoke_key(),
        request("Webhook signing secret", "GET", "/api/v1/webhooks/secret", 200, [
            BODY, expect("pm.expect(body.secret).to.be.a('string').and.not.empty", "a secret"),
            capture("webhookSecret", "body.secret")]),
        request("Rotate the webhook secret", "POST", "/api/v1/webhooks/secret/rotate", 200, [
            BODY, expect("pm.expect(body.secret).to.not.eql(pm.collectionVariables.get('webhookSecret'))",
                         "a new secret")]),
    ])
    admin = folder("Administrator", [
        native_login("Log in as the administrator", "adminAccessToken", "adminUsername", "adminPassword"),
        request("Users (admin)", "GET", "/auth/v1/users", 200, [
            BODY, expect("pm.expect(JSON.stringify(body)).to.include(pm.variables.get('username'))",
                         "the account is listed")], auth=bearer("adminAccessToken")),
        request("Every user's jobs (admin)", "GET", "/api/v1/admin/jobs", 200, [
            BODY, expect("pm.expect(body.items).to.be.an('array')", "a page of jobs")],
            auth=bearer("adminAccessToken")),
        request("Queues and live workers (admin)", "GET", "/api/v1/admin/operations", 200, [
            BODY, expect("pm.expect(body.broker_up).to.eql(true)", "the broker answers"),
            expect("pm.expect(body.queues.map(q => q.kind)).to.include('translate')", "the translate queue")],
            auth=bearer("adminAccessToken")),
        request("Installed translation packages (admin)", "GET", "/api/v1/admin/translate/packages", 200, [
            BODY, expect("pm.expect(body.packages).to.be.an('array')", "the package list")],
            auth=bearer("adminAccessToken")),
        native_logout("Log the administrator out", "adminAccessToken"),
    ], "Needs adminUsername and adminPassword (CONVEYOR_ADMIN_USERNAME / CONVEYOR_ADMIN_PASSWORD).")
    logout = folder("Log out", [
        native_logout(),
        request("The token no longer works", "GET", "/auth/v1/me", 401),
    ])
    items = [account, catalog, jobs, native_pipelines(), keys, admin, logout]
    return collection("Conveyor", "The native API and auth service as a user meets them: register, log in, a job "
                      "of each kind (translate, asr, vision, convert) from submit to result, export and artifacts, "
                      "cancel and delete, a pipeline (transcribe-translate) from upload to its outputs and one "
                      "cancelled, API keys, the webhook secret, the administrator's views, log out. "
                      + VARIABLES_NOTE.format(file="conveyor.postman_collection.json",
                                              extra=" --env-var adminUsername=... --env-var adminPassword=..."),
                      items, bearer(), captured_variables(items))


def captured_variables(items: Iterable[dict[str, Any]]) -> set[str]:
    found = set()
    for item in requests_of(items):
        for event in item.get("event", []):
            found |= set(re.findall(r"collectionVariables\.set\('([A-Za-z]+)'", "\n".join(event["script"]["exec"])))
    return found


def requests_of(items: Iterable[dict[str, Any]]):
    for item in items:
        if "item" in item:
            yield from requests_of(item["item"])
        else:
            yield item


# --- the compat surfaces --------------------------------------------------------------------------

def compat_logout(prefix_note: str) -> dict[str, Any]:
    """The surfaces' tokens are native access tokens: the native logout ends their session."""
    return folder("Log out", [
        request("Log out (native route, last)", "POST", "/auth/v1/logout", 204, [
            expect("pm.expect(pm.response.text()).to.be.empty", "no body")], auth=bearer()),
        request("The token no longer works", "GET", "/auth/v1/me", 401, auth=bearer()),
    ], f"{prefix_note} has no logout of its own; its token is a native one, which the native logout ends.")


def nevisa_collection() -> dict[str, Any]:
    p = "/compat/nevisa"
    token_header = header_auth("Token {{token}}")
    items = [
        folder("Account", [
            native_register(),
            request("Log in", "POST", f"{p}/account/login", 200, [
                BODY, expect("pm.expect(body.message).to.eql('Successfully logged in.')", "the seed's message"),
                expect("pm.expect(body.user.username).to.eql(pm.variables.get('username'))", "the user object"),
                expect("pm.expect(body.user.token).to.be.a('string').and.not.empty", "an auth token"),
                capture("token", "body.user.token")],
                body=json_body({"username_or_phone_or_email": "{{username}}", "password": "{{password}}"}),
                auth=NOAUTH),
            request("Create an API key (native route)", "POST", "/auth/v1/api-keys", 201, [
                BODY, expect("pm.expect(body.key).to.match(/^cvk_/)", "the key is shown once"),
                capture("apiKey", "body.key"), capture("apiKeyId", "body.id")],
                body=json_body({"name": "nevisa"}), auth=bearer()),
        ], "Nevisa's recognize-file takes an api_key, made with the native API-key route."),
        folder("Recognition", [
            request("Recognize a file", "POST", f"{p}/recognize-file", 200, [
                BODY, expect("pm.expect(body.progress_url).to.eql(`/celery-progress/${body.task_id}/`)",
                             "the progress URL"),
                capture("taskId", "body.task_id")],
                body=form_body({"auth_token": "{{token}}", "api_key": "{{apiKey}}"}, {"file": "samples/hello.mp3"}),
                auth=NOAUTH),
            poll("Task progress (until complete)", p + "/celery-progress/{{taskId}}/", done="body.complete === true",
                 ok="pm.expect(body.state).to.eql('SUCCESS'); pm.expect(body.success).to.eql(true); "
                    "pm.expect(body.progress.percent).to.eql(100); "
                    "pm.expect(body.result.transcription.text.toLowerCase()).to.include('cat'); "
                    "pm.expect(body.result.transcription.result[0]).to.have.keys('conf', 'end', 'start', 'word')",
                 ok_title="the transcript", auth=token_header),
            request("Terminate the finished task", "POST", f"{p}/file/terminate-task", 200, [
                BODY, expect("pm.expect(body.state).to.eql('SUCCESS')", "it had ended in SUCCESS"),
                expect("pm.expect(body.task_id).to.eql(pm.collectionVariables.get('taskId'))", "the task")],
                body=form_body({"task_id": "{{taskId}}"}), auth=token_header),
            request("Delete the job (native route)", "DELETE", "/api/v1/jobs/{{taskId}}", 204, auth=bearer()),
            request("Revoke the API key (native route)", "DELETE", "/auth/v1/api-keys/{{apiKeyId}}", 204,
                    auth=bearer()),
        ]),
        compat_logout("Nevisa"),
    ]
    return collection("Conveyor compat: nevisa", "Seed 000 (Nevisa speech-to-text) under /compat/nevisa: log in, "
                      "make an API key, recognize a file, poll celery-progress (with the Authorization: Token "
                      "header), terminate, clean up. " + VARIABLES_NOTE.format(
                          file="compat-nevisa.postman_collection.json", extra=""),
                      items, token_header, captured_variables(items))


def primitives_collection() -> dict[str, Any]:
    p = "/compat/primitives"
    task = "{{taskId}}"
    items = [
        folder("Account", [
            native_register(),
            request("Log in (OAuth2 password form)", "POST", f"{p}/oauth/login", 200, [
                BODY, expect("pm.expect(body.token_type).to.match(/^bearer$/i)", "a bearer token"),
                capture("token", "body.access_token")],
                body=urlencoded_body({"username": "{{username}}", "password": "{{password}}"}), auth=NOAUTH),
        ]),
        folder("Tasks", [
            request("Models", "GET", f"{p}/api/models", 200, [
                BODY, expect("pm.expect(body.detection_models).to.be.an('array').that.is.not.empty", "detectors"),
                expect("pm.expect(body.classification_models[0]).to.have.keys('model_id', 'model_name')",
                       "classifiers")]),
            request("Create a task (the raw image)", "POST", f"{p}/api/tasks", 200, [
                BODY, expect("pm.expect(body.id).to.be.a('number')", "an integer id"), capture("taskId", "body.id")],
                body=file_body("samples/shapes.png"), headers={"Content-Type": "image/png"}),
            poll("Task status (until done)", f"{p}/api/tasks/{task}/status",
                 done="!['queued', 'in progress'].includes(body.status)",
                 ok="pm.expect(body.status).to.eql('done')", ok_title="the task is done"),
            request("Task result", "GET", f"{p}/api/tasks/{task}/result", 200, [
                BODY, expect("pm.expect(body.status).to.eql('done')", "done"),
                expect("pm.expect(body.result.primitives).to.be.an('array')", "primitives"),
                expect("pm.expect(body.result.image_class).to.be.a('string')", "the image's class")]),
            request("Task result (the seed's other path)", "GET", f"{p}/tasks/{task}/result", 200, [
                BODY, expect("pm.expect(body.id).to.eql(Number(pm.collectionVariables.get('taskId')))", "the task")]),
            request("Task input", "GET", f"{p}/api/tasks/{task}/input", 200, [
                expect("pm.expect(pm.response.headers.get('Content-Type')).to.include('image/png')", "the PNG")]),
            request("List tasks", "GET", f"{p}/api/tasks", 200, [
                BODY, expect("pm.expect(body.tasks.map(t => t.id)).to.include(Number(pm.collectionVariables.get("
                             "'taskId')))", "the task is listed"),
                expect("pm.expect(body.tasks[0].input_path).to.match(/^img_\\d+\\.png$/)", "no server path")]),
            request("Delete the task", "DELETE", f"{p}/api/tasks/{task}", 200, [
                BODY, expect("pm.expect(body.id).to.eql(Number(pm.collectionVariables.get('taskId')))", "deleted")]),
            request("A deleted task is gone", "GET", f"{p}/api/tasks/{task}/status", 404),
        ]),
        compat_logout("Primitives"),
    ]
    return collection("Conveyor compat: primitives", "Seed 001 (image primitives) under /compat/primitives: log "
                      "in with the OAuth2 form, send a PNG as the raw body, poll its status, read result and "
                      "input, delete. " + VARIABLES_NOTE.format(file="compat-primitives.postman_collection.json",
                                                               extra=""),
                      items, bearer(), captured_variables(items))


def translate_collection() -> dict[str, Any]:
    p = "/compat/translate"
    job = "{{jobId}}"
    items = [
        folder("Account", [
            native_register(),
            request("Obtain a token pair", "POST", f"{p}/api/token/", 200, [
                BODY, expect("pm.expect(body).to.have.keys('access', 'refresh')", "access and refresh"),
                capture("token", "body.access"), capture("refreshToken", "body.refresh")],
                body=json_body({"username": "{{username}}", "password": "{{password}}"}), auth=NOAUTH),
            request("Refresh the token", "POST", f"{p}/api/token/refresh/", 200, [
                BODY, expect("pm.expect(body.access).to.be.a('string').and.not.empty", "a new access token"),
                capture("token", "body.access"), capture("refreshToken", "body.refresh")],
                body=json_body({"refresh": "{{refreshToken}}"}), auth=NOAUTH),
        ]),
        folder("Translations", [
            request("Submit a translation", "POST", f"{p}/api/v1/translate/", 201, [
                BODY, expect("pm.expect(body.source_lang).to.eql('en')", "the job as sent"),
                capture("jobId", "body.id")],
                body=json_body({"source_text": "The cat is black.", "source_lang": "en", "target_lang": "es",
                                "priority": "normal"})),
            poll("Status (until completed)", f"{p}/api/v1/translate/{job}/status/",
                 done="!['pending', 'processing'].includes(body.status)",
                 ok="pm.expect(body.status).to.eql('completed'); pm.expect(body.word_count).to.eql(4)",
                 ok_title="the translation completed"),
            request("Result", "GET", f"{p}/api/v1/translate/{job}/result/", 200, [
                BODY, expect("pm.expect(body.translated_text.toLowerCase()).to.include('gato')", "the translation"),
                expect("pm.expect(body.error_message).to.eql(null)", "no error")]),
            request("All jobs (a user may not)", "GET", f"{p}/api/v1/translate/all/", 403, [
                BODY, expect("pm.expect(body.detail).to.include('permission')", "DRF's refusal")]),
        ]),
        folder("Administrator", [
            request("Obtain the administrator's token", "POST", f"{p}/api/token/", 200, [
                BODY, capture("adminAccessToken", "body.access")],
                body=json_body({"username": "{{adminUsername}}", "password": "{{adminPassword}}"}), auth=NOAUTH),
            request("All jobs (admin)", "GET", f"{p}/api/v1/translate/all/", 200, [
                BODY, expect("pm.expect(body.map(j => j.id)).to.include(pm.collectionVariables.get('jobId'))",
                             "every user's jobs")], auth=bearer("adminAccessToken")),
            native_logout("Log the administrator out (native route)", "adminAccessToken"),
        ], "Needs adminUsername and adminPassword: /all/ is the administrators' list."),
        folder("Clean up", [
            request("Delete the job (native route)", "DELETE", f"/api/v1/jobs/{job}", 204),
        ]),
        compat_logout("The translate surface"),
    ]
    return collection("Conveyor compat: translate", "Seed 002 (translation, Simple JWT) under /compat/translate: "
                      "token pair and refresh, submit, poll the status, read the result, the administrators' "
                      "list. " + VARIABLES_NOTE.format(file="compat-translate.postman_collection.json",
                                                       extra=" --env-var adminUsername=... --env-var "
                                                             "adminPassword=..."),
                      items, bearer(), captured_variables(items))


def lecture_collection() -> dict[str, Any]:
    p = "/compat/lecture"
    items = [
        folder("Account", [
            request("Health", "GET", f"{p}/", 200, [
                BODY, expect("pm.expect(body).to.eql({api: true, database: true})", "up")], auth=NOAUTH),
            request("Register (201, or 409 when the account exists)", "POST", f"{p}/auth/register", (201, 409), [
                BODY, "if (pm.response.code === 201) {",
                "    " + expect("pm.expect(body.can_interact).to.eql(false)", "new accounts start disabled"),
                "} else {",
                "    " + expect("pm.expect(body.detail).to.include('already exists')", "the account exists"),
                "}"], body=json_body({"username": "{{username}}", "password": "{{password}}"}), auth=NOAUTH),
            request("Log in", "POST", f"{p}/auth/login", 200, [
                BODY, expect("pm.expect(body.access_token).to.be.a('string').and.not.empty", "an access token"),
                capture("token", "body.access_token"), capture("refreshToken", "body.refresh_token")],
                body=json_body({"username": "{{username}}", "password": "{{password}}"}), auth=NOAUTH),
            request("Who am I", "GET", f"{p}/auth/info", 200, [
                BODY, expect("pm.expect(body.username).to.eql(pm.variables.get('username'))", "the account"),
                capture("userId", "body.id")]),
            request("Enable the account (admin secret)", "PATCH", f"{p}/auth/patch", 200, [
                BODY, expect("pm.expect(body.can_interact).to.eql(true)", "it may submit")],
                query={"user_id": "{{userId}}", "secret_admin_token": "{{adminToken}}"},
                body=json_body({"can_interact": True}), auth=NOAUTH),
            request("Refresh the token", "POST", f"{p}/auth/refresh", 200, [
                BODY, expect("pm.expect(body.access_token).to.be.a('string').and.not.empty", "a new access token"),
                capture("token", "body.access_token"), capture("refreshToken", "body.refresh_token")],
                body=json_body({"refresh_token": "{{refreshToken}}"}), auth=NOAUTH),
        ], "The PATCH needs adminToken (CONVEYOR_ADMIN_TOKEN): accounts start unable to submit, as the seed's."),
        folder("Transcription", [
            request("Upload an MP3 (10 s at least)", "POST", f"{p}/upload-audiofile", 200, [
                BODY, expect("pm.expect(body.message).to.eql('File uploaded successfully')", "the seed's message"),
                expect("pm.expect(body.file).to.eql('lecture.mp3')", "the stored name, no path"),
                capture("taskId", "body.task_id")], body=form_body({}, {"audiofile": "samples/lecture.mp3"})),
            poll("Transcription info (until it has ended)", f"{p}/transcript/info",
                 query={"transcript_id": "{{taskId}}"},
                 done="!['queued', 'in_progress'].includes(body.current_state)",
                 ok="pm.expect(body.current_state).to.eql('completed'); "
                    "pm.expect(body.description.toLowerCase()).to.include('cat')",
                 ok_title="the transcription completed"),
            request("Transcript (page 1)", "GET", f"{p}/transcript", 200, [
                BODY, expect("pm.expect(body.total).to.be.above(0)", "chunks"),
                expect("pm.expect(body.transcriptions[0].chunk_order).to.eql(0)", "in order")],
                query={"task_id": "{{taskId}}", "page": "1", "size": "50"}),
            request("My transcriptions", "GET", f"{p}/transcriptions", 200, [
                BODY, expect("pm.expect(body.transcriptions.map(t => t.id)).to.include(Number("
                             "pm.collectionVariables.get('taskId')))", "it is listed")]),
            request("Export as text", "POST", f"{p}/transcript/export", 200, [
                expect("pm.expect(pm.response.headers.get('Content-Disposition')).to.include('.txt')", "a .txt"),
                expect("pm.expect(pm.response.text().toLowerCase()).to.include('cat')", "the transcript")],
                query={"task_id": "{{taskId}}", "format": "txt"}),
            request("Export as Word", "POST", f"{p}/transcript/export", 200, [
                expect("pm.expect(pm.response.headers.get('Content-Disposition')).to.include('.docx')", "a .docx")],
                query={"task_id": "{{taskId}}", "format": "doc"}),
            request("Cancel a finished transcription (409)", "POST", f"{p}/transcript/cancel", 409, [
                BODY, expect("pm.expect(body.detail).to.be.a('string')", "says why")],
                query={"transcript_id": "{{taskId}}"}),
            request("Worker callback on a finished transcription (409)", "POST", f"{p}/worker/transcription_status",
                    409, [BODY, expect("pm.expect(body.detail).to.include('already ended')",
                                       "the worker secret is accepted; a finished job takes nothing more")],
                    query={"secret_worker_token": "{{workerToken}}"},
                    body=json_body({"transcription_id": "{{#taskId}}", "current_state": "completed"}), auth=NOAUTH),
        ]),
        compat_logout("The lecture surface"),
    ]
    return collection("Conveyor compat: lecture", "Seed 003 (lazy-lecture transcription) under /compat/lecture: "
                      "register, enable the account with the admin secret, upload an 11 s MP3, poll its info, "
                      "read pages, export txt and docx, the worker callback. " + VARIABLES_NOTE.format(
                          file="compat-lecture.postman_collection.json",
                          extra=" --env-var adminToken=<CONVEYOR_ADMIN_TOKEN> --env-var "
                                "workerToken=<CONVEYOR_WORKER_TOKEN>"),
                      items, bearer(), captured_variables(items))


def converter_collection() -> dict[str, Any]:
    p = "/compat/converter"
    task = "{{taskId}}"
    items = [
        folder("Account", [
            request("Sign up (200, or 409 when the account exists)", "POST", f"{p}/api/auth/signup", (200, 409), [
                BODY, "if (pm.response.code === 200) {",
                "    " + expect("pm.expect(body.message).to.eql('usuario creado exitosamente')", "the seed's message"),
                "} else {",
                "    " + expect("pm.expect(body.message).to.include('already registered')", "the account exists"),
                "}"], body=json_body({"username": "{{username}}", "password1": "{{password}}",
                                      "password2": "{{password}}", "email": "{{email}}"}), auth=NOAUTH),
            request("Log in", "POST", f"{p}/api/auth/login", 200, [
                BODY, expect("pm.expect(body.token).to.be.a('string').and.not.empty", "a token"),
                capture("token", "body.token")],
                body=json_body({"username": "{{username}}", "password": "{{password}}"}), auth=NOAUTH),
        ]),
        folder("Tasks", [
            request("Create a task (MP3 to WAV)", "POST", f"{p}/api/tasks", 200, [
                BODY, expect("pm.expect(body.message).to.eql('Conversion started')", "the seed's message"),
                capture("taskId", "body.task_id")],
                body=form_body({"conversion_type": "wav"}, {"file": "samples/hello.mp3"})),
            poll("Task (until it has ended)", f"{p}/api/tasks/{task}",
                 done="!['PENDING', 'STARTED', 'RETRY'].includes(body.state)",
                 ok="pm.expect(body.state).to.eql('SUCCESS'); "
                    "pm.expect(body.result).to.eql(\"{'status': 'File saved to hello.wav'}\")",
                 ok_title="the conversion succeeded"),
            request("List tasks", "GET", f"{p}/api/tasks", 200, [
                BODY, expect("pm.expect(body.tasks.map(t => t.task_id)).to.include(pm.collectionVariables.get("
                             "'taskId'))", "the task is listed")]),
            request("Download the converted file", "GET", f"{p}/api/download", 200, [
                expect("pm.expect(pm.response.headers.get('Content-Type')).to.include('audio/wav')", "a WAV"),
                expect("pm.expect(pm.response.headers.get('Content-Disposition')).to.include('hello.wav')",
                       "named after the upload")], query={"task_id": task}),
            request("Delete the task", "DELETE", f"{p}/api/tasks/{task}", 204),
            request("A deleted task is gone", "GET", f"{p}/api/tasks/{task}", 404),
        ]),
        compat_logout("The converter surface"),
    ]
    return collection("Conveyor compat: converter", "Seed 004 (media conversion, Flask + Celery) under "
                      "/compat/converter: sign up, log in, convert an MP3 to WAV, poll, download, delete. "
                      + VARIABLES_NOTE.format(file="compat-converter.postman_collection.json", extra=""),
                      items, bearer(), captured_variables(items))


def api_key_account(name: str) -> dict[str, Any]:
    """Register, log in and make the API key these clients are configured with."""
    return folder("Account", [native_register(), native_login(), native_api_key(name)],
                  "Its clients authenticate with a Conveyor API key, made here with the native routes.")


def api_key_logout() -> dict[str, Any]:
    return folder("Log out", [
        request("Revoke the API key", "DELETE", "/auth/v1/api-keys/{{apiKeyId}}", 204, auth=bearer()),
        request("The revoked key no longer works", "GET", "/v1/models", 401, [
            BODY, expect("pm.expect(body.error.type).to.be.a('string')", "OpenAI's error body")],
            auth=bearer("apiKey")),
        native_logout(),
        request("The token no longer works", "GET", "/auth/v1/me", 401, auth=bearer()),
    ])


def openai_collection() -> dict[str, Any]:
    audio = {"file": "samples/hello.mp3"}
    items = [
        api_key_account("openai"),
        folder("Audio", [
            request("List models", "GET", "/v1/models", 200, [
                BODY, expect("pm.expect(body.object).to.eql('list')", "OpenAI's list"),
                expect("pm.expect(body.data.map(m => m.id)).to.include('whisper-1')", "whisper-1")]),
            request("Retrieve whisper-1", "GET", "/v1/models/whisper-1", 200, [
                BODY, expect("pm.expect(body).to.include({id: 'whisper-1', object: 'model'})", "the model")]),
            request("Transcribe (json)", "POST", "/v1/audio/transcriptions", 200, [
                BODY, expect("pm.expect(body.text.toLowerCase()).to.include('cat')", "the transcript")],
                body=form_body({"model": "whisper-1", "response_format": "json"}, audio)),
            request("Transcribe (verbose_json)", "POST", "/v1/audio/transcriptions", 200, [
                BODY, expect("pm.expect(body.task).to.eql('transcribe')", "the task"),
                expect("pm.expect(body.language).to.eql('english')", "the language, OpenAI's way"),
                expect("pm.expect(body.segments[0]).to.include.keys('start', 'end', 'text', 'avg_logprob')",
                       "segments")],
                body=form_body({"model": "whisper-1", "response_format": "verbose_json", "language": "en"}, audio)),
            request("Transcribe (srt)", "POST", "/v1/audio/transcriptions", 200, [
                expect("pm.expect(pm.response.text()).to.match(/^1\\n00:00:00,000 --> /)", "SubRip cues")],
                body=form_body({"model": "whisper-1", "response_format": "srt"}, audio)),
            request("An unknown model (400)", "POST", "/v1/audio/transcriptions", 400, [
                BODY, expect("pm.expect(body.error.param).to.eql('model')", "OpenAI's error names the field")],
                body=form_body({"model": "no-such-model"}, audio)),
        ], "Each request runs one asr job and answers when it has ended. /v1/audio/translations is left out: "
           "it needs a multilingual Whisper model (make deps installs whisper-base), which a test stack may lack."),
        api_key_logout(),
    ]
    return collection("Conveyor: OpenAI audio API", "OpenAI's speech-to-text API at /v1 (what the openai "
                      "packages call with base_url=<conveyor>/v1): models, transcriptions in several formats. "
                      + VARIABLES_NOTE.format(file="openai-audio.postman_collection.json", extra=""),
                      items, bearer("apiKey"), captured_variables(items))


def libretranslate_collection() -> dict[str, Any]:
    items = [
        api_key_account("libretranslate"),
        folder("Translate", [
            request("Languages (public)", "GET", "/languages", 200, [
                BODY, expect("pm.expect(body.find(l => l.code === 'en').targets).to.include('es')", "en -> es")],
                auth=NOAUTH),
            request("Translate", "POST", "/translate", 200, [
                BODY, expect("pm.expect(body.translatedText.toLowerCase()).to.include('gato')", "the translation")],
                body=json_body({"q": "The cat is black.", "source": "en", "target": "es", "api_key": "{{apiKey}}"})),
            request("Translate a batch, detecting the language", "POST", "/translate", 200, [
                BODY, expect("pm.expect(body.translatedText).to.have.lengthOf(2)", "one translation per text"),
                expect("pm.expect(body.detectedLanguage.map(d => d.language)).to.eql(['en', 'en'])",
                       "English detected")],
                body=json_body({"q": ["The cat is black.", "I would like a cup of coffee."], "source": "auto",
                                "target": "es", "api_key": "{{apiKey}}"})),
            request("Detect", "POST", "/detect", 200, [
                BODY, expect("pm.expect(body[0].language).to.eql('en')", "English first")],
                body=json_body({"q": "The cat is black and the dog is brown.", "api_key": "{{apiKey}}"})),
            request("Translate without a key (400)", "POST", "/translate", 400, [
                BODY, expect("pm.expect(body.error).to.be.a('string')", "LibreTranslate's error body")],
                body=json_body({"q": "The cat is black.", "source": "en", "target": "es"})),
        ], "Each /translate runs native translate jobs and answers when they have ended."),
        api_key_logout(),
    ]
    return collection("Conveyor: LibreTranslate API", "LibreTranslate's API at the base URL (/languages, "
                      "/translate, /detect), the API key in api_key. "
                      + VARIABLES_NOTE.format(file="libretranslate.postman_collection.json", extra=""),
                      items, NOAUTH, captured_variables(items))


SURFACES = {"nevisa": nevisa_collection, "primitives": primitives_collection, "translate": translate_collection,
            "lecture": lecture_collection, "converter": converter_collection}


def collections() -> dict[str, dict[str, Any]]:
    """Every collection by file name."""
    result = {"conveyor.postman_collection.json": native_collection()}
    for name, build in SURFACES.items():
        result[f"compat-{name}.postman_collection.json"] = build()
    result["openai-audio.postman_collection.json"] = openai_collection()
    result["libretranslate.postman_collection.json"] = libretranslate_collection()
    return result


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for filename, built in collections().items():
        (OUT / filename).write_text(json.dumps(built, indent=2, ensure_ascii=False) + "\n")
        print(OUT / filename)


if __name__ == "__main__":
    main()
