"""RabbitMQ topology and the confirmed publisher.

One durable priority queue per kind, bound to a direct exchange; each queue
dead-letters into ``<prefix>.<kind>.dlq`` through a second exchange. Messages
carry ids, not payloads: ``{job_id, kind, attempt, schema_version}``.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterable

import pika
from pika.adapters.blocking_connection import BlockingChannel

from shared.kinds import KINDS

LOGGER = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_PRIORITY = 10


class PublishError(Exception):
    """The broker did not confirm a message (down, nacked or unroutable); the outbox keeps it."""


class PoisonMessage(ValueError):
    """A message no worker can ever process (not JSON, wrong shape, unknown schema)."""

    def __init__(self, reason: str, job_id: str | None = None):
        super().__init__(reason)
        self.job_id = job_id


def exchange_name(prefix: str) -> str:
    return f"{prefix}.jobs"


def dead_letter_exchange_name(prefix: str) -> str:
    return f"{prefix}.dlx"


def queue_name(prefix: str, kind: str) -> str:
    return f"{prefix}.{kind}"


def dead_letter_queue_name(prefix: str, kind: str) -> str:
    return f"{prefix}.{kind}.dlq"


def close_quietly(connection: pika.BlockingConnection | None) -> None:
    """Close a connection that may already be broken (nothing to report then)."""
    if connection is not None and connection.is_open:
        try:
            connection.close()
        except pika.exceptions.AMQPError:
            LOGGER.debug("closing a broken connection", exc_info=True)


def declare_topology(channel: BlockingChannel, prefix: str, kinds: Iterable[str] = KINDS) -> None:
    """Declare exchanges, the work queue and the dead-letter queue of each kind (idempotent)."""
    channel.exchange_declare(exchange_name(prefix), exchange_type="direct", durable=True)
    channel.exchange_declare(dead_letter_exchange_name(prefix), exchange_type="direct", durable=True)
    for kind in kinds:
        dlq = dead_letter_queue_name(prefix, kind)
        channel.queue_declare(dlq, durable=True)
        channel.queue_bind(dlq, dead_letter_exchange_name(prefix), routing_key=kind)
        queue = queue_name(prefix, kind)
        channel.queue_declare(queue, durable=True, arguments={
            "x-max-priority": MAX_PRIORITY,
            "x-dead-letter-exchange": dead_letter_exchange_name(prefix),
            "x-dead-letter-routing-key": kind,
        })
        channel.queue_bind(queue, exchange_name(prefix), routing_key=kind)


def encode_message(job_id: str, kind: str, attempt: int) -> dict[str, Any]:
    return {"job_id": str(job_id), "kind": kind, "attempt": attempt, "schema_version": SCHEMA_VERSION}


def decode_message(body: bytes, kind: str) -> dict[str, Any]:
    """Parse a job message, raising PoisonMessage for anything a worker of ``kind`` cannot use."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"not JSON: {exc}") from exc
    if not isinstance(message, dict) or not isinstance(message.get("job_id"), str):
        raise PoisonMessage("no job_id")
    if message.get("schema_version") != SCHEMA_VERSION:
        raise PoisonMessage(f"unsupported schema_version {message.get('schema_version')!r}", message["job_id"])
    if message.get("kind") != kind:
        raise PoisonMessage(f"message for kind {message.get('kind')!r} on the {kind} queue")
    return message


class Publisher:
    """A BlockingConnection publisher with publisher confirms and ``mandatory`` routing."""

    def __init__(self, amqp_url: str, prefix: str):
        self.amqp_url = amqp_url
        self.prefix = prefix
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def _ensure_channel(self) -> BlockingChannel:
        if self._channel is None or self._channel.is_closed:
            self.close()
            params = pika.URLParameters(self.amqp_url)
            params.heartbeat = 30
            params.blocked_connection_timeout = 30
            params.connection_attempts = 1
            self._connection = pika.BlockingConnection(params)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            declare_topology(self._channel, self.prefix)
        return self._channel

    def publish(self, kind: str, payload: dict[str, Any], priority: int = 5,
                dead_letter: bool = False) -> None:
        """Publish one message and wait for the broker's confirm; raise PublishError otherwise."""
        exchange = dead_letter_exchange_name(self.prefix) if dead_letter else exchange_name(self.prefix)
        try:
            channel = self._ensure_channel()
            channel.basic_publish(
                exchange, kind, json.dumps(payload).encode(),
                properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent,
                                                content_type="application/json", priority=priority,
                                                message_id=payload.get("job_id")),
                mandatory=True)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
            raise PublishError(f"broker refused the message: {exc!r}") from exc
        except pika.exceptions.AMQPError as exc:
            self.close()
            raise PublishError(f"broker unavailable: {exc!r}") from exc

    def process_events(self) -> None:
        """Serve heartbeats of an idle connection."""
        if self._connection is not None and self._connection.is_open:
            try:
                self._connection.process_data_events(time_limit=0)
            except pika.exceptions.AMQPError:
                self.close()

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        close_quietly(connection)
