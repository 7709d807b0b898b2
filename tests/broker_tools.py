"""Test helpers over the real RabbitMQ: counts, raw publishes, clean-up of a run's queues."""
from __future__ import annotations

import json

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
