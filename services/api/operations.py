"""What an operator watches, for the console's Admin page and for /metrics: queues and workers.

Queue depths come from RabbitMQ (a passive declare per queue: nothing is created); workers from
their heartbeats in PostgreSQL, with the job each one is running now.
"""
from __future__ import annotations

from typing import Any, Optional

import pika
from sqlalchemy import select

from shared.db import db
from shared.kinds import KINDS
from shared.messaging import dead_letter_queue_name, queue_name
from shared.models import Job, WorkerRecord
from shared.states import JobStatus
from shared.worker.registry import running_since


def queue_depths(amqp_url: str, prefix: str) -> dict[str, dict[str, Optional[int]]]:
    """Messages waiting in each kind's queue and in its dead-letter queue (None: not declared yet).

    Raises pika.exceptions.AMQPError when the broker does not answer.
    """
    params = pika.URLParameters(amqp_url)
    params.socket_timeout = 2
    params.connection_attempts = 1
    connection = pika.BlockingConnection(params)
    depths: dict[str, dict[str, Optional[int]]] = {}
    try:
        channel = connection.channel()
        for kind in KINDS:
            depths[kind] = {}
            queues = (("waiting", queue_name(prefix, kind)), ("dead_letters", dead_letter_queue_name(prefix, kind)))
            for field, name in queues:
                try:
                    depths[kind][field] = channel.queue_declare(name, passive=True).method.message_count
                except pika.exceptions.ChannelClosedByBroker:
                    depths[kind][field] = None
                    channel = connection.channel()  # the queue does not exist yet
    finally:
        connection.close()
    return depths


def live_workers() -> list[dict[str, Any]]:
    """Workers that reported recently, newest heartbeat first, each with the job it runs now (if any)."""
    records = db.session.scalars(select(WorkerRecord).where(WorkerRecord.last_seen_at >= running_since())
                                 .order_by(WorkerRecord.last_seen_at.desc())).all()
    running = {job.worker_id: job for job in db.session.scalars(
        select(Job).where(Job.status == JobStatus.RUNNING.value, Job.worker_id.in_([r.id for r in records])))}
    return [{"id": record.id, "kind": record.kind, "started_at": record.started_at,
             "last_seen_at": record.last_seen_at,
             "current_job": ({"id": running[record.id].id, "number": running[record.id].number,
                              "user_id": running[record.id].user_id}
                             if record.id in running else None)}
            for record in records]
