"""S16 and S19 on `make up`'s stack: the gateway's answers carry browser protections, its logs no secrets."""
from __future__ import annotations

import base64
import hashlib
import http.client
import re
import secrets
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import RUN_DIR, wait_for

MODULE = __name__.rsplit(".", 1)[-1].removeprefix("test_")


def _assert_protected(reply) -> None:
    headers = reply.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    # One of each: the gateway adds its own only where the service sent none.
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy"):
        assert len(headers.get_all(name) if hasattr(headers, "get_all") else [headers[name]]) == 1
        assert "," not in headers[name] or name == "Content-Security-Policy"
    assert headers["Server"] == "nginx"  # server_tokens off: no version; gunicorn's banner is replaced
    assert "Strict-Transport-Security" not in headers  # plain HTTP; a client's X-Forwarded-Proto is ignored


def _oversized_post(base: str, path: str) -> http.client.HTTPResponse:
    """A POST announcing a body far over client_max_body_size: nginx answers 413 before reading it."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(5 * 1024 ** 3))
    conn.endheaders()
    reply = conn.getresponse()
    reply.read()
    conn.close()
    return reply


@pytest.mark.parametrize("path, status", [("/api/v1/languages", 200), ("/no/such/page", 404),
                                          ("/api/v1/jobs", 401), ("/auth/v1/me", 401),
                                          ("/internal/v1/jobs", 404), ("/docs/assets/swagger-ui.css", 200),
                                          ("/openapi.json", 200), ("/healthz", 200)])
def test_every_gateway_answer_carries_the_browser_protections(stack, path, status):
    reply = requests.get(stack["base"] + path, headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert reply.status_code == status
    _assert_protected(reply)


def test_the_413_nginx_makes_itself_carries_them_too(stack):
    reply = _oversized_post(stack["base"], "/api/v1/jobs/asr")
    assert reply.status == 413
    headers = reply.headers
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Server"] == "nginx"
    assert b"nginx/" not in b"".join(f"{k}: {v}".encode() for k, v in headers.items())


@pytest.mark.parametrize("docs", ["/docs", "/auth/docs"])
def test_the_docs_pages_work_under_their_policy(stack, docs):
    reply = requests.get(stack["base"] + docs, timeout=10)
    assert reply.status_code == 200
    _assert_protected(reply)
    policy = reply.headers["Content-Security-Policy"]
    inline = re.findall(r"<script>(.*?)</script>", reply.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy and "unsafe-inline" not in policy
    for asset in re.findall(r'(?:src|href)="([^"]+)"', reply.text):  # same origin: 'self'
        assert requests.get(stack["base"] + asset, timeout=10).status_code == 200
    spec = re.search(r'url: "([^"]+)"', reply.text).group(1)
    assert requests.get(stack["base"] + spec, timeout=10).json()["openapi"]


def test_secrets_in_query_strings_never_reach_the_logs(stack):
    base = stack["base"]
    used = {name: f"{name[:3]}-{secrets.token_hex(8)}" for name in (
        "secret_admin_token", "secret_worker_token", "api_key", "token", "access_token", "refresh_token",
        "password", "key")}
    marker = secrets.token_hex(4)
    sent = [
        requests.patch(f"{base}/compat/lecture/auth/patch?user_id=1&secret_admin_token={used['secret_admin_token']}",
                       json={"can_interact": True}, timeout=10),
        requests.post(f"{base}/compat/lecture/worker/transcription_status?secret_worker_token="
                      f"{used['secret_worker_token']}", json={}, timeout=10),
        requests.post(f"{base}/translate?api_key={used['api_key']}", data={"q": "hi", "source": "en", "target": "es"},
                      timeout=10),
        requests.post(f"{base}/detect?api_key={used['api_key']}", data={"q": "hello"}, timeout=10),
        requests.get(f"{base}/api/v1/languages?m={marker}&token={used['token']}", timeout=10),
        requests.get(f"{base}/auth/v1/me?access_token={used['access_token']}&refresh_token={used['refresh_token']}",
                     timeout=10),
        requests.post(f"{base}/auth/v1/login?password={used['password']}", json={"username": "x", "password": "y"},
                      timeout=10),
        requests.get(f"{base}/internal/v1/jobs?key={used['key']}&m={marker}", timeout=10),  # nginx answers itself
    ]
    assert [reply.status_code < 500 for reply in sent] == [True] * len(sent)
    assert _oversized_post(base, f"/api/v1/jobs/asr?api_key={used['api_key']}&m={marker}").status == 413

    log_path = RUN_DIR / f"stack-{MODULE}.log"
    # The request paths are logged (gunicorn's access log; nginx's for the answers it makes itself) ...
    wait_for(lambda: all(path in log_path.read_text(errors="replace") for path in (
        "/compat/lecture/auth/patch", "/compat/lecture/worker/transcription_status", "/translate", "/detect",
        f"/api/v1/languages?m={marker}", "/auth/v1/me", "/auth/v1/login", "/internal/v1/jobs")),
        timeout=15, message="the requests in the stack's log")
    text = log_path.read_text(errors="replace")
    assert re.search(r'"POST /api/v1/jobs/asr HTTP/1.1" 413', text)  # nginx's line: the path, no query
    # ... and none of the secrets they carried.
    for name, value in used.items():
        assert value not in text, f"{name} leaked into {log_path}"
    assert "[REDACTED]" in text
