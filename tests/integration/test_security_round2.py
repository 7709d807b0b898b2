"""Issue 18, security round 2: nested JSON (S18), browser protections (S19), IPv6 SSRF at submit (S20), page sizes."""
from __future__ import annotations

import base64
import hashlib
import logging
import re

import pytest
from flask import Flask, request

from shared import json_guard
from shared.errors import register_error_handlers
from shared.json_guard import MAX_JSON_BYTES, MAX_JSON_DEPTH, json_nesting_exceeds
from tests.compat.test_lecture_surface import LectureUser

DEEP = 100_000
DEEP_ARRAY = "[" * DEEP + "]" * DEEP
DEEP_OBJECT = '{"a":' * DEEP + "1" + "}" * DEEP


def _body_routes(flask_app) -> list[str]:
    """Every route of an app that takes a body (POST/PUT/PATCH), with its path parameters filled in."""
    paths = []
    for rule in flask_app.url_map.iter_rules():
        if rule.methods & {"POST", "PUT", "PATCH"}:
            path = re.sub(r"<int:[^>]+>", "1", rule.rule.replace("<string:kind>", "translate"))
            paths.append(re.sub(r"<[^>]+>", "00000000-0000-4000-8000-000000000000", path))
    return sorted(paths)


def _method(flask_app, path: str) -> str:
    adapter = flask_app.url_map.bind("localhost")
    for method in ("POST", "PUT", "PATCH"):
        try:
            adapter.match(path, method=method)
            return method
        except Exception:  # noqa: BLE001 - not this method; try the next
            continue
    raise AssertionError(f"no body method for {path}")


# The LibreTranslate face's body routes answer in its {"error": ...} shape.
LIBRETRANSLATE_ROUTES = ("/translate", "/detect", "/translate_file")


def _assert_deep_json_refused(test_client, flask_app, path, body, caplog):
    caplog.clear()
    with caplog.at_level(logging.INFO):
        reply = test_client.open(path, method=_method(flask_app, path), data=body,
                                 content_type="application/json")
    assert reply.status_code == 400, (path, reply.status_code, reply.get_data()[:300])
    assert reply.is_json
    if path in LIBRETRANSLATE_ROUTES:
        assert str(MAX_JSON_DEPTH) in reply.json["error"]  # LibreTranslate's own error shape
    elif not path.startswith("/compat/") and not path.startswith("/v1/"):
        assert reply.json["code"] == 400 and str(MAX_JSON_DEPTH) in reply.json["message"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], path


# The routes the issue names are in these sweeps: login, register, API keys, every compat login, native and
# compat translate, LibreTranslate's /translate and /detect, OpenAI's, and the rest of the body routes.
AUTH_ROUTES = ["/auth/v1/login", "/auth/v1/register", "/auth/v1/api-keys", "/compat/translate/api/token/",
               "/compat/nevisa/account/login", "/compat/primitives/oauth/login", "/compat/lecture/auth/login",
               "/compat/converter/api/auth/login"]
API_ROUTES = ["/api/v1/jobs/translate", "/compat/translate/api/v1/translate/", "/translate", "/detect"]


def test_the_named_routes_are_in_the_sweeps(app, auth_app):
    assert set(AUTH_ROUTES) <= set(_body_routes(auth_app))
    assert set(API_ROUTES) <= set(_body_routes(app))


@pytest.mark.parametrize("shape", ["array", "object"])
def test_deeply_nested_json_is_400_on_every_auth_route_without_a_traceback(auth_client, auth_app, caplog, shape):
    body = DEEP_ARRAY if shape == "array" else DEEP_OBJECT
    for path in _body_routes(auth_app):
        _assert_deep_json_refused(auth_client, auth_app, path, body, caplog)


@pytest.mark.parametrize("shape", ["array", "object"])
def test_deeply_nested_json_is_400_on_every_api_route_without_a_traceback(client, app, caplog, shape):
    body = DEEP_ARRAY if shape == "array" else DEEP_OBJECT
    for path in _body_routes(app):
        _assert_deep_json_refused(client, app, path, body, caplog)


def test_compat_surfaces_refuse_deep_json_in_their_own_shapes(client, auth_client):
    assert auth_client.post("/compat/lecture/auth/login", data=DEEP_ARRAY,
                            content_type="application/json").json.keys() == {"detail"}
    assert client.post("/translate", data=DEEP_ARRAY, content_type="application/json").json.keys() == {"error"}
    assert client.post("/detect", data=DEEP_OBJECT, content_type="application/json").json.keys() == {"error"}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32-le"])
def test_deep_json_in_any_encoding_the_parser_reads_is_400(auth_client, client, encoding):
    for test_client, path in ((auth_client, "/auth/v1/login"), (client, "/api/v1/jobs/translate")):
        reply = test_client.post(path, data=("  " + "[" * 20_000).encode(encoding),
                                 content_type="application/json")
        assert reply.status_code == 400 and str(MAX_JSON_DEPTH) in reply.json["message"]


def test_the_2000_deep_body_of_the_hardening_table_is_400(auth_client):
    reply = auth_client.post("/auth/v1/login", data="[" * 2000 + "]" * 2000, content_type="application/json")
    assert reply.status_code == 400 and reply.json["code"] == 400


def test_a_json_body_over_the_bound_is_413(auth_client):
    body = '{"username": "' + "a" * MAX_JSON_BYTES + '"}'
    reply = auth_client.post("/auth/v1/login", data=body, content_type="application/json")
    assert reply.status_code == 413 and reply.json["code"] == 413


def test_brackets_inside_strings_do_not_count_as_nesting(client, make_user, translate_pairs_registered):
    text = "[{" * 2000 + ' \\" ' + "]}" * 2000
    reply = client.post("/api/v1/jobs/translate", headers=make_user().headers,
                        data='{"text": "' + text + '", "source_lang": "en", "target_lang": "es"}',
                        content_type="application/json")
    assert reply.status_code in (201, 202), reply.json


@pytest.mark.parametrize("body, deep", [
    ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, False),
    ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), True),
    ('{"a": "' + "[" * 500 + '"}', False),
    ("[1]" * 500, False),
    ('["\\\\"' + ", [" * 100 + "]" * 100 + "]", True),
])
def test_nesting_is_measured_outside_strings(body, deep):
    assert json_nesting_exceeds(body.encode(), MAX_JSON_DEPTH) is deep


# --- S19: browser protections on the Flask apps (the gateway's are in tests/e2e/test_gateway_security.py)

def _assert_protected(reply):
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    policy = reply.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "Strict-Transport-Security" not in reply.headers  # plain HTTP


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/languages", "/no/such/page", "/api/v1/jobs",
                                  "/openapi.json", "/docs/assets/swagger-ui.css"])
def test_every_api_answer_carries_the_browser_protections(client, path):
    _assert_protected(client.get(path))


@pytest.mark.parametrize("path", ["/auth/v1/me", "/auth/openapi.json", "/auth/nothing"])
def test_every_auth_answer_carries_the_browser_protections(auth_client, path):
    _assert_protected(auth_client.get(path))


@pytest.mark.parametrize("docs", ["/docs", "/auth/docs"])
def test_the_docs_page_may_run_exactly_its_own_inline_script(client, auth_client, docs):
    reply = (auth_client if docs.startswith("/auth") else client).get(docs)
    assert reply.status_code == 200
    _assert_protected(reply)
    html = reply.get_data()
    inline = re.findall(rb"<script>(.*?)</script>", html, re.DOTALL)
    assert len(inline) == 1 and b"SwaggerUIBundle" in inline[0]
    digest = base64.b64encode(hashlib.sha256(inline[0]).digest()).decode()
    policy = reply.headers["Content-Security-Policy"]
    assert f"script-src 'self' 'sha256-{digest}'" in policy
    # Its scripts and stylesheet come from this server, which the policy allows.
    for asset in re.findall(rb'(?:src|href)="([^"]+)"', html):
        assert asset.startswith(b"/"), asset
        assert (auth_client if docs.startswith("/auth") else client).get(asset.decode()).status_code == 200
    assert b"validator.swagger.io" not in html and b'"validatorUrl": null' in html


def test_hsts_only_when_served_over_tls(client):
    reply = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert reply.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


# --- S20 through the submit API

@pytest.mark.parametrize("host", ["[2002:7f00:1::]", "[64:ff9b::7f00:1]", "[::ffff:127.0.0.1]",
                                  "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "[64:ff9b::a9fe:a9fe]"])
def test_a_callback_through_an_ipv6_transition_address_is_refused_at_submit(client, make_user, host):
    reply = client.post("/api/v1/jobs/translate", headers=make_user().headers, json={
        "text": "hi", "source_lang": "en", "target_lang": "es", "callback_url": f"http://{host}/hook"})
    assert reply.status_code == 400 and "callback_url" in reply.json["message"]


# --- Page sizes: every list is bounded, in its surface's own error shape

@pytest.mark.parametrize("query, kind", [("size=101", "less_than_equal"), ("size=100000000", "less_than_equal"),
                                         ("page=1000001", "less_than_equal")])
def test_lecture_pages_are_bounded_as_fastapi_pagination_bounds_them(client, auth_client, app, query, kind):
    user = LectureUser(auth_client, app)
    for path in ("/compat/lecture/transcriptions", "/compat/lecture/transcript?task_id=1"):
        joiner = "&" if "?" in path else "?"
        reply = client.get(f"{path}{joiner}{query}", headers=user.headers)
        assert reply.status_code == 422, reply.json
        assert [p["type"] for p in reply.json["detail"]] == [kind]
    assert client.get("/compat/lecture/transcriptions?size=100", headers=user.headers).json["size"] == 100


def test_native_job_pages_are_bounded(client, make_user):
    headers = make_user().headers
    assert client.get("/api/v1/jobs?per_page=101", headers=headers).status_code == 422
    assert client.get("/api/v1/jobs?per_page=100", headers=headers).status_code == 200


def test_user_pages_are_bounded(auth_client, make_user):
    headers = make_user("admin").headers
    assert auth_client.get("/auth/v1/users?per_page=201", headers=headers).status_code == 422
    assert auth_client.get("/auth/v1/users?per_page=200", headers=headers).status_code == 200


def test_workers_results_may_exceed_the_public_json_bound_but_not_the_depth(client, app, monkeypatch):
    """The internal API (workers only) takes a long recording's result; deep nesting is refused there too."""
    monkeypatch.setattr(json_guard, "MAX_JSON_BYTES", 1000)
    big = '{"claim_id": "x", "result": {"text": "' + "a" * 2000 + '"}}'
    path = "/internal/v1/jobs/00000000-0000-4000-8000-000000000000/succeed"
    headers = {"X-Worker-Token": app.config["WORKER_TOKEN"]}
    assert client.post("/api/v1/jobs/translate", data=big, content_type="application/json").status_code == 413
    assert client.post(path, data=big, content_type="application/json", headers=headers).status_code in (400, 404)
    assert client.post(path, data=DEEP_ARRAY, content_type="application/json", headers=headers).status_code == 400


@pytest.fixture
def echo_app(monkeypatch):
    """A bare app with the JSON guard, whose views read the body back as the surfaces do."""
    monkeypatch.setattr(json_guard, "MAX_JSON_BYTES", 1000)
    echo = Flask("echo")
    register_error_handlers(echo)
    echo.before_request(json_guard.refuse_oversized_json)
    echo.add_url_rule("/raw", "raw", lambda: {"body": hashlib.sha256(request.stream.read()).hexdigest()},
                      methods=["POST"])
    echo.add_url_rule("/json", "json", lambda: {"body": request.get_json()}, methods=["POST"])
    return echo.test_client()


def test_a_raw_upload_labelled_json_reaches_the_view_whole(echo_app):
    """The primitives seed posts its image as application/json: no bound, the view reads every byte."""
    image = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"[{" * 500
    reply = echo_app.post("/raw", data=image, content_type="application/json")
    assert reply.status_code == 200 and reply.json["body"] == hashlib.sha256(image).hexdigest()


def test_json_under_the_bounds_is_parsed_as_usual_after_the_scan(echo_app):
    body = {"a": [[[{"b": "[[[[" * 50}]]], "c": 1}
    reply = echo_app.post("/json", json=body)
    assert reply.status_code == 200 and reply.json["body"] == body
    assert echo_app.post("/json", data="[" + "1," * 600 + "1]", content_type="application/json").status_code == 413
