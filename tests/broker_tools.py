"""Test helpers over the real RabbitMQ: counts, raw publishes, clean-up of a run's queues; a private node.

Tests that stop or time out a broker start a PRIVATE RabbitMQ node (``PrivateRabbit``: its own
name, ports, data and log in a temporary directory) and never touch the shared one, which other
test runs use at the same time. Starting a node takes 5-10 s on an idle machine (much longer on a
loaded one).
"""
from __future__ import annotations

import glob
import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Optional

import pika

from shared.kinds import KINDS
from shared.messaging import (
    dead_letter_exchange_name,
    dead_letter_queue_name,
    declare_topology,
    exchange_name,
    queue_name,
)


class BrokerTools:
    def __init__(self, amqp_url: str, prefix: str):
        self.amqp_url = amqp_url
        self.prefix = prefix
        with self._channel() as channel:
            declare_topology(channel, prefix)

    class _Channel:
        def __init__(self, url: str):
            self.connection = pika.BlockingConnection(pika.URLParameters(url))

        def __enter__(self):
            return self.connection.channel()

        def __exit__(self, *exc_info):
            self.connection.close()

    def _channel(self) -> "_Channel":
        return self._Channel(self.amqp_url)

    def count(self, kind: str, dead_letter: bool = False) -> int:
        name = dead_letter_queue_name(self.prefix, kind) if dead_letter else queue_name(self.prefix, kind)
        with self._channel() as channel:
            return channel.queue_declare(name, passive=True).method.message_count

    def purge(self, kind: str) -> None:
        with self._channel() as channel:
            channel.queue_purge(queue_name(self.prefix, kind))
            channel.queue_purge(dead_letter_queue_name(self.prefix, kind))

    def publish_raw(self, kind: str, body: bytes | dict) -> None:
        """Publish bytes (or a dict as JSON) straight to a kind's queue, bypassing the outbox."""
        payload = json.dumps(body).encode() if isinstance(body, dict) else body
        with self._channel() as channel:
            channel.basic_publish(exchange_name(self.prefix), kind, payload,
                                  properties=pika.BasicProperties(delivery_mode=2))

    def delete_everything(self) -> None:
        with self._channel() as channel:
            for kind in KINDS:
                channel.queue_delete(queue_name(self.prefix, kind))
                channel.queue_delete(dead_letter_queue_name(self.prefix, kind))
            channel.exchange_delete(exchange_name(self.prefix))
            channel.exchange_delete(dead_letter_exchange_name(self.prefix))


SERVER = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
PRIVATE_NODE_POSSIBLE = bool(SERVER) and os.geteuid() == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRabbit:
    """A RabbitMQ node of a test's own, listening on 127.0.0.1:<port>, with no plugins.

    ``halt()`` then ``start()`` restarts it with its data (durable queues, persistent messages)
    on the same port; ``stop()`` ends it and removes everything.
    """

    def __init__(self, label: str, consumer_timeout_ms: Optional[int] = None,
                 channel_tick_ms: Optional[int] = None):
        self.root = Path(tempfile.mkdtemp(prefix=f"conveyor-{label}-"))
        self.port, self.name = free_port(), f"{label}{uuid.uuid4().hex[:6]}@localhost"
        self.dist_port = free_port()
        conf = f"listeners.tcp.default = {self.port}\n"
        if consumer_timeout_ms is not None:
            conf += f"consumer_timeout = {consumer_timeout_ms}\n"
        (self.root / "rabbitmq.conf").write_text(conf)
        # A consumer timeout is checked on the channel's tick (60 s by default).
        advanced = f"{{channel_tick_interval, {channel_tick_ms}}}" if channel_tick_ms else ""
        (self.root / "advanced.config").write_text(f"[{{rabbit, [{advanced}]}}].\n")
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "env.conf").write_text("")  # not /etc/rabbitmq/rabbitmq-env.conf (the shared node's)
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 240.0) -> None:
        from tests.conftest import wait_for

        env = {"PATH": "/usr/sbin:/usr/bin:/bin", "HOME": str(self.root), "ERL_EPMD_ADDRESS": "127.0.0.1",
               "RABBITMQ_CONF_ENV_FILE": str(self.root / "env.conf"), "RABBITMQ_NODENAME": self.name,
               "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
               "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
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

    def halt(self) -> None:
        """Stop the node (SIGTERM, a clean shutdown), keeping its data for the next ``start``."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def stop(self) -> None:
        self.halt()
        subprocess.run(["rm", "-rf", str(self.root)], check=False)
