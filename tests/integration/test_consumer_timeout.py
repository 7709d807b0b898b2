"""R12: a job that runs longer than RabbitMQ's consumer timeout does not loop.

RabbitMQ closes the channel of a consumer that holds a delivery unacked past ``consumer_timeout``
and requeues the message; a worker that acked only at the end would see its job delivered again
and again. Conveyor's worker acks right after the claim (shared.worker.consumer), so the broker
never times it out.

The shared broker's consumer timeout is a node-wide setting, so this test starts a PRIVATE RabbitMQ
node (its own name, ports, data and log in a temporary directory; consumer_timeout 2 s, checked
every 0.5 s) and never touches the shared one. Starting a node takes 5-10 s on an idle machine
(much longer on a loaded one).
"""
from __future__ import annotations

import glob
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pika
import pytest

from tests.conftest import wait_for
from tests.integration.test_pipeline import submit, wait_status

SERVER = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
CONSUMER_TIMEOUT_MS = 2000
JOB_SECONDS = 6.0
TIMED_OUT = "timed out waiting for delivery acknowledgement"

pytestmark = [pytest.mark.usefixtures("translate_pairs_registered"),
              pytest.mark.skipif(not SERVER or os.geteuid() != 0,
                                 reason="needs RabbitMQ's server scripts and root (a private node)")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRabbit:
    """A RabbitMQ node of this test's own, listening on 127.0.0.1:<port>, with no plugins."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="conveyor-r12-"))
        self.port, self.name = free_port(), f"r12faults{uuid.uuid4().hex[:6]}@localhost"
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {self.port}\nconsumer_timeout = {CONSUMER_TIMEOUT_MS}\n")
        # The timeout is checked on the channel's tick (60 s by default): tick every 0.5 s here.
        (self.root / "advanced.config").write_text("[{rabbit, [{channel_tick_interval, 500}]}].\n")
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "env.conf").write_text("")  # not /etc/rabbitmq/rabbitmq-env.conf (the shared node's)
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 240.0) -> None:
        env = {"PATH": "/usr/sbin:/usr/bin:/bin", "HOME": str(self.root), "ERL_EPMD_ADDRESS": "127.0.0.1",
               "RABBITMQ_CONF_ENV_FILE": str(self.root / "env.conf"), "RABBITMQ_NODENAME": self.name,
               "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
               "RABBITMQ_DIST_PORT": str(free_port()), "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
               "RABBITMQ_LOG_BASE": str(self.root / "log"), "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
               "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
               "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.root / "plugins-expand"),
               "RABBITMQ_PID_FILE": str(self.root / "pid")}
        self.process = subprocess.Popen([SERVER[-1]], env=env, cwd=self.root, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        pika_logger = logging.getLogger("pika")
        level = pika_logger.level
        pika_logger.setLevel(logging.CRITICAL)  # each refused try while the node boots is expected
        try:
            wait_for(self._accepts_amqp, timeout=timeout, interval=1.0, message="the private RabbitMQ node")
        finally:
            pika_logger.setLevel(level)

    def _accepts_amqp(self) -> bool:
        try:
            pika.BlockingConnection(pika.URLParameters(self.url + "?connection_attempts=1")).close()
            return True
        except pika.exceptions.AMQPError:
            return False

    def log(self) -> str:
        return "".join(path.read_text(errors="replace") for path in (self.root / "log").glob("*.log"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        subprocess.run(["rm", "-rf", str(self.root)], check=False)


@pytest.fixture
def private_rabbit():
    rabbit = PrivateRabbit()
    try:
        rabbit.start()
        yield rabbit
    finally:
        rabbit.stop()


@pytest.fixture
def relay_to_private(database, private_rabbit, own_prefix):
    """An outbox relay thread publishing to the private node (the own_prefix names there)."""
    import threading

    from services.relay.outbox import OutboxRelay
    from shared.db import database_app
    from shared.messaging import Publisher

    stop = threading.Event()
    relay = OutboxRelay(database_app(database), Publisher(private_rabbit.url, own_prefix))
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    yield relay
    stop.set()
    thread.join(10)


def holds_a_delivery_until_timed_out(url: str) -> None:
    """The control: on this node a consumer that keeps a delivery unacked is timed out in seconds."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.basic_publish("", queue, b"held")
        channel.basic_consume(queue, lambda *delivery: None)
        wait_for(lambda: connection.process_data_events(time_limit=0.2) or channel.is_closed, timeout=30,
                 message="the broker timing out an unacked delivery")
    finally:
        if connection.is_open:
            connection.close()


def test_a_job_longer_than_the_consumer_timeout_runs_once_without_a_requeue(
        client, make_user, private_rabbit, own_prefix, relay_to_private, start_worker, monkeypatch):
    calls: list[str] = []

    def longer_than_the_timeout(job, io):
        calls.append(job["id"])
        for step in range(int(JOB_SECONDS)):
            time.sleep(1.0)
            io.progress(step + 1, JOB_SECONDS, "seconds")
        return {"translated_text": "done"}

    holds_a_delivery_until_timed_out(private_rabbit.url)
    wait_for(lambda: private_rabbit.log().count(TIMED_OUT) == 1, timeout=15, message="the broker's log line")
    monkeypatch.setenv("AMQP_URL", private_rabbit.url)
    monkeypatch.setenv("CONVEYOR_AMQP_PREFIX", own_prefix)
    worker = start_worker(handler=longer_than_the_timeout)
    connection = worker._connection
    user = make_user()
    job = submit(client, user, text="a long job")
    done = wait_status(client, user, job["id"], timeout=60)

    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert calls.count(job["id"]) == 1
    assert worker._connection is connection and worker._channel.is_open, "the broker closed nothing"
    time.sleep(1.0)  # a line about the job's delivery would be written within the channel's 0.5 s tick
    assert private_rabbit.log().count(TIMED_OUT) == 1, "only the control's delivery was timed out"
    probe = pika.BlockingConnection(pika.URLParameters(private_rabbit.url))
    try:
        waiting = probe.channel().queue_declare(f"{own_prefix}.translate", passive=True).method.message_count
    finally:
        probe.close()
    assert waiting == 0, "nothing was requeued"
