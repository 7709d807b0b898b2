"""Webhooks: signed job events to an allow-listed loopback receiver, retries, log, redelivery, SSRF."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.relay.webhooks import WebhookDispatcher
from shared import webhooks
from tests.conftest import wait_for
from tests.integration.test_pipeline import submit, wait_status

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


class Receiver:
    """A loopback HTTP server that records POSTs and answers with the queued status codes (then 200)."""

    def __init__(self):
        self.received: list[dict] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/conveyor"

    def events(self) -> list[str]:
        return [json.loads(item["body"])["event"] for item in self.received]


@pytest.fixture
def receiver(app, monkeypatch):
    receiver = Receiver()
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def dispatcher(database, monkeypatch):
    from shared.db import database_app
    app = database_app(database)
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ["127.0.0.1"]
    stop = threading.Event()
    thread = threading.Thread(target=WebhookDispatcher(app).run, args=(stop, 0.1), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)


def test_a_finished_job_is_posted_signed_with_the_users_secret(
        client, make_user, relay, translate_worker, receiver, dispatcher):
    user = make_user()
    job = submit(client, user, callback_url=receiver.url)
    assert wait_status(client, user, job["id"])["status"] == "succeeded"
    wait_for(lambda: receiver.events() == ["job.succeeded"], message="the webhook")
    delivery = receiver.received[0]
    secret = client.get("/api/v1/webhooks/secret", headers=user.headers).json["secret"]
    assert webhooks.verify(secret, delivery["headers"]["X-Conveyor-Signature"], delivery["body"])
    assert not webhooks.verify(secret + "x", delivery["headers"]["X-Conveyor-Signature"], delivery["body"])
    body = json.loads(delivery["body"])
    assert body["job"]["id"] == job["id"] and body["job"]["status"] == "succeeded"
    assert delivery["headers"]["X-Conveyor-Event"] == "job.succeeded"
    # The receiver has the request before the dispatcher, back from it, records the delivery.
    log_url = f"/api/v1/jobs/{job['id']}/webhooks"
    wait_for(lambda: client.get(log_url, headers=user.headers).json[0]["status"] != "pending",
             message="the delivery recorded")
    log = client.get(log_url, headers=user.headers).json
    assert [(d["event"], d["status"], d["attempts"], d["last_status_code"]) for d in log] == \
        [("job.succeeded", "delivered", 1, 200)]


def test_a_failing_receiver_is_retried_with_backoff_then_redelivered_on_request(
        client, make_user, relay, translate_worker, receiver, dispatcher):
    receiver.answers = [503]
    user = make_user()
    job = submit(client, user, callback_url=receiver.url)
    wait_status(client, user, job["id"])
    log_url = f"/api/v1/jobs/{job['id']}/webhooks"
    wait_for(lambda: client.get(log_url, headers=user.headers).json[0]["status"] == "delivered",
             timeout=15, message="the retried delivery")
    delivery = client.get(log_url, headers=user.headers).json[0]
    assert delivery["attempts"] == 2 and len(receiver.received) == 2
    again = client.post(f"{log_url}/{delivery['id']}/redeliver", headers=user.headers)
    assert again.status_code == 202
    wait_for(lambda: len(receiver.received) == 3, message="the redelivery")


def test_progress_events_when_asked(client, make_user, relay, start_worker, receiver, dispatcher):
    from tests.integration.slow_worker import slow_handler
    start_worker(slow_handler)
    user = make_user()
    job = submit(client, user, callback_url=receiver.url, callback_progress=True)
    wait_status(client, user, job["id"])
    wait_for(lambda: "job.succeeded" in receiver.events(), message="the final event")
    assert receiver.events().count("job.progress") >= 3
    assert receiver.events()[-1] == "job.succeeded"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://169.254.169.254/latest",
                                 "http://10.1.2.3/x", "http://[::1]/x", "ftp://example.com/x", "not a url"])
def test_private_or_odd_callback_urls_are_refused_at_submit(client, make_user, url):
    """SSRF: without an administrator's allow-list entry, only public addresses are called."""
    reply = client.post("/api/v1/jobs/translate", headers=make_user().headers, json={
        "text": "hi", "source_lang": "en", "target_lang": "es", "callback_url": url})
    assert reply.status_code == 400
    assert "callback_url" in reply.json["message"]


def test_another_users_delivery_log_is_404(client, two_users, receiver):
    alice, bob = two_users
    job = submit(client, alice, callback_url=receiver.url)
    assert client.get(f"/api/v1/jobs/{job['id']}/webhooks", headers=bob.headers).status_code == 404


def test_the_secret_can_be_rotated(client, make_user):
    user = make_user()
    first = client.get("/api/v1/webhooks/secret", headers=user.headers).json["secret"]
    assert client.get("/api/v1/webhooks/secret", headers=user.headers).json["secret"] == first
    rotated = client.post("/api/v1/webhooks/secret/rotate", headers=user.headers).json["secret"]
    assert rotated != first and rotated.startswith("whsec_")
