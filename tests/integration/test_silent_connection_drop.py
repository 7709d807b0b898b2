"""R11: the connection between a worker and RabbitMQ goes silent (a NAT or firewall dropped it: no
reset, no FIN, bytes just stop). The worker's heartbeat notices, it reconnects, and the job whose
delivery vanished in the hole is redelivered by the broker and finishes exactly once.

A small TCP proxy written here sits between the worker and RabbitMQ; ``black_hole_at(marker)``
makes it stop forwarding on a connection when the broker sends bytes containing ``marker`` (those
are swallowed too), keeping both sockets open; new connections pass as before. Holing on the
delivery itself, with a relay driven by hand, keeps the test independent of the machine's speed.
The worker reads its heartbeat from CONVEYOR_AMQP_HEARTBEAT_SECONDS, 1 s here: pika
checks every heartbeat + 5 s, so the worker notices within about 6-12 s.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import _retire_earlier_tests_work, wait_for
from tests.integration.test_pipeline import job_row, submit, wait_status

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


class _Link:
    """One proxied connection: the worker's socket, the broker's socket, and whether it is holed."""

    def __init__(self, worker_side: socket.socket, broker_side: socket.socket):
        self.worker_side, self.broker_side = worker_side, broker_side
        self.holed = threading.Event()


class BlackHoleProxy:
    """Forwards 127.0.0.1:<port> to the broker until told to swallow the open connections' bytes."""

    def __init__(self, broker: tuple[str, int]):
        self.broker = broker
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.links: list[_Link] = []
        self.hole_marker: bytes | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                worker_side, _ = self.listener.accept()
            except OSError:
                return
            link = _Link(worker_side, socket.create_connection(self.broker))
            with self._lock:
                self.links.append(link)
            threading.Thread(target=self._pump, args=(link, link.worker_side, link.broker_side, False),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(link, link.broker_side, link.worker_side, True),
                             daemon=True).start()

    def _pump(self, link: _Link, source: socket.socket, target: socket.socket, from_broker: bool) -> None:
        """Copy bytes one way; once holed, read and drop them, and never pass a close on."""
        tail = b""  # the end of the previous read: a marker may straddle two reads
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if from_broker and self.hole_marker and self.hole_marker in tail + data:
                link.holed.set()
                self.hole_marker = None  # once: the reconnected worker's traffic passes
            tail = (tail + data)[-64:]
            if link.holed.is_set():  # swallow
                if not data:
                    return  # the peer closed: a dropped connection tells the other side nothing
                continue
            if not data:
                for sock in (link.worker_side, link.broker_side):
                    sock.close()
                return
            try:
                target.sendall(data)
            except OSError:
                return

    def black_hole_at(self, marker: bytes) -> None:
        """Stop forwarding on the first connection on which the broker sends ``marker``, from then on."""
        self.hole_marker = marker

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for link in self.links:
                for sock in (link.worker_side, link.broker_side):
                    sock.close()


@pytest.fixture
def proxy(config):
    parts = urlsplit(config.AMQP_URL)
    proxy = BlackHoleProxy((parts.hostname, parts.port or 5672))
    yield proxy
    proxy.close()


def through(amqp_url: str, port: int, host: str = "127.0.0.1") -> str:
    """``amqp_url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(amqp_url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}:{port}"))


def test_a_silently_dropped_connection_is_noticed_and_the_lost_delivery_runs_once(
        client, make_user, app, config, database, proxy, own_prefix, start_worker, monkeypatch, caplog,
        _own_queue_prefix):
    from services.relay.outbox import OutboxRelay
    from shared.db import database_app
    from shared.messaging import Publisher

    calls: list[str] = []

    def record_and_answer(job, io):
        calls.append(job["id"])
        return {"translated_text": job["params"]["text"].upper()}

    monkeypatch.setenv("AMQP_URL", through(config.AMQP_URL, proxy.port))
    monkeypatch.setenv("CONVEYOR_AMQP_PREFIX", own_prefix)
    monkeypatch.setenv("CONVEYOR_AMQP_HEARTBEAT_SECONDS", "1")
    caplog.set_level(logging.WARNING, logger="shared.worker.consumer")
    worker = start_worker(handler=record_and_answer)
    first_connection = worker._connection
    assert len(proxy.links) == 1, "the worker's one connection goes through the proxy"
    # Rows earlier tests left pending (some due only later, after a backoff) are not this relay's.
    _retire_earlier_tests_work(app, _own_queue_prefix)
    relay = OutboxRelay(database_app(database), Publisher(config.AMQP_URL, own_prefix))
    user = make_user()
    wait_for(lambda: not worker._busy.is_set(), message="the worker idle")

    job = submit(client, user, text="lost in the hole")
    # Hole on this job's own delivery.
    proxy.black_hole_at(job["id"].encode())
    with relay.app.app_context():
        assert relay.relay_batch() == 1
    relay.publisher.close()
    holed_at = time.monotonic()
    wait_for(lambda: any(link.holed.is_set() for link in proxy.links), timeout=10,
             message="the broker's delivery of the job vanishing in the hole")
    done = wait_status(client, user, job["id"], timeout=45)
    finished = time.monotonic() - holed_at

    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert calls.count(job["id"]) == 1, "the job ran exactly once"
    assert worker._connection is not first_connection and worker._connection.is_open, "it reconnected"
    lost = [r.getMessage() for r in caplog.records if "broker connection lost" in r.getMessage()]
    assert any("broker connection lost (AMQPHeartbeatTimeout)" in line for line in lost), lost
    assert job_row(app, job["id"]).worker_id == worker.worker_id
    print(f"\n[R11] job finished {finished:.1f}s after the connection went silent (heartbeat 1 s)")
