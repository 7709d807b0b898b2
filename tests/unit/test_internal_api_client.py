"""HARDENING R8: the worker's API client retries 502-504 and connection errors within a budget."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.internal_api import ApiError, ApiUnavailable, InternalApi


@pytest.fixture
def server():
    answers: list[int] = []
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.headers["X-Worker-Token"])
            status = answers.pop(0) if answers else 200
            body = b'{"cancelled": false, "message": "no"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", answers, seen
    httpd.shutdown()


def test_503s_are_retried_until_the_api_answers(server):
    url, answers, seen = server
    answers.extend([503, 502])
    api = InternalApi(url, "secret", retry_seconds=10)
    assert api.post_events("job", "claim", [{"type": "heartbeat"}]) is False
    assert seen == ["secret"] * 3


def test_a_4xx_is_not_retried(server):
    url, answers, seen = server
    answers.append(409)
    with pytest.raises(ApiError) as caught:
        InternalApi(url, "secret", retry_seconds=10).post_events("job", "claim", [])
    assert caught.value.status == 409 and len(seen) == 1


def test_a_dead_api_gives_up_after_the_budget():
    api = InternalApi("http://127.0.0.1:9", "secret", timeout=0.5, retry_seconds=1)
    with pytest.raises(ApiUnavailable):
        api.post_events("job", "claim", [])
