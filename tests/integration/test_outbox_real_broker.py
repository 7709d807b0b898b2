"""R3 with the real publisher and the real RabbitMQ: an unroutable or a nacked publish keeps the outbox
row pending, and the relay retries it until the broker confirms.

Each test has its own exchange and queue prefix, so breaking its routing touches nobody else. The relay
also takes the rows other tests left pending (it reads the shared outbox); those are published to this
test's exchange and deleted with it, and the assertions look at this test's own job only.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pika
import pytest
from sqlalchemy import select

from services.relay.outbox import FIRST_PUBLISH_BACKOFF, OutboxRelay
from shared import jobflow
from shared.db import database_app
from shared.db import db as handle
from shared.messaging import Publisher
from tests.broker_tools import BrokerTools
from tests.conftest import wait_for


@pytest.fixture
def prefix() -> str:
    return f"r3faults{uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin_channel(config, prefix):
    """A channel of our own, to break and repair this prefix's routing; deletes the prefix's queues after."""
    tools = BrokerTools(config.AMQP_URL, prefix)
    connection = pika.BlockingConnection(pika.URLParameters(config.AMQP_URL))
    yield connection.channel()
    connection.close()
    tools.delete_everything()


@pytest.fixture
def relay(database, prefix, admin_channel):
    """A relay driven by hand, publishing through the real Publisher to this test's prefix."""
    relay = OutboxRelay(database_app(database), Publisher(database.AMQP_URL, prefix))
    with relay.app.app_context():
        yield relay
    relay.publisher.close()


def new_translate_job(user_id: int) -> uuid.UUID:
    job = jobflow.create_job(user_id, "translate", {"text": "x", "source_lang": "en", "target_lang": "es"})
    handle.session.commit()
    return job.id


def outbox_row(job_id: uuid.UUID):
    """The job's first outbox row, fresh from the database."""
    from shared.models import OutboxMessage
    handle.session.expire_all()
    return handle.session.scalars(select(OutboxMessage).where(OutboxMessage.job_id == job_id)
                                  .order_by(OutboxMessage.id)).first()


def relay_until(relay, condition, message: str, timeout: float = 15.0):
    """Run relay batches (as the relay's loop does) until ``condition()`` holds."""
    def step():
        relay.relay_batch()
        return condition()
    return wait_for(step, timeout=timeout, interval=0.05, message=message)


def ours_in_queue(channel, queue: str, *job_ids: uuid.UUID) -> list[str]:
    """Take every message off ``queue``; return the ids among ``job_ids`` they carry, in queue order."""
    wanted, found = {str(job_id) for job_id in job_ids}, []
    while True:
        method, _, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return found
        if json.loads(body)["job_id"] in wanted:
            found.append(json.loads(body)["job_id"])


def test_an_unroutable_publish_stays_pending_and_is_retried_until_the_binding_returns(
        relay, admin_channel, prefix, make_user):
    owner = make_user()
    work_queue, exchange = f"{prefix}.translate", f"{prefix}.jobs"
    first = new_translate_job(owner.id)
    relay_until(relay, lambda: outbox_row(first).sent_at is not None, "the first job's confirm")
    assert ours_in_queue(admin_channel, work_queue, first) == [str(first)]

    admin_channel.queue_unbind(work_queue, exchange, routing_key="translate")
    job_id = new_translate_job(owner.id)
    tried_after = jobflow.utcnow()
    row = relay_until(relay, lambda: (r := outbox_row(job_id)).attempts >= 1 and r, "the unroutable try")
    assert row.sent_at is None and "UnroutableError" in row.last_error, row.last_error
    assert row.last_error.startswith("broker refused the message")
    assert row.available_at >= tried_after + timedelta(seconds=FIRST_PUBLISH_BACKOFF), "it waits its backoff"

    row = relay_until(relay, lambda: (r := outbox_row(job_id)).attempts >= 2 and r, "the retry")
    assert row.sent_at is None, "still unroutable: still pending"

    admin_channel.queue_bind(work_queue, exchange, routing_key="translate")
    row = relay_until(relay, lambda: (r := outbox_row(job_id)).sent_at is not None and r, "the confirm")
    assert isinstance(row.sent_at, datetime) and row.attempts >= 2
    assert ours_in_queue(admin_channel, work_queue, job_id) == [str(job_id)], "delivered once, when routable"


def test_a_nacked_publish_stays_pending_and_is_retried_until_the_broker_takes_it(
        relay, admin_channel, prefix, make_user):
    """A second queue bound to the same key, full and set to reject-publish, makes the broker nack."""
    owner = make_user()
    exchange, refusing = f"{prefix}.jobs", f"{prefix}.translate.refusing"
    admin_channel.queue_declare(refusing, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    admin_channel.queue_bind(refusing, exchange, routing_key="translate")
    try:
        job_id = new_translate_job(owner.id)
        tried_after = jobflow.utcnow()
        row = relay_until(relay, lambda: (r := outbox_row(job_id)).attempts >= 1 and r, "the nacked try")
        assert row.sent_at is None and "NackError" in row.last_error, row.last_error
        assert row.available_at >= tried_after + timedelta(seconds=FIRST_PUBLISH_BACKOFF)

        row = relay_until(relay, lambda: (r := outbox_row(job_id)).attempts >= 2 and r, "the retry")
        assert row.sent_at is None, "still refused: still pending"

        admin_channel.queue_unbind(refusing, exchange, routing_key="translate")
        relay_until(relay, lambda: outbox_row(job_id).sent_at is not None, "the confirm")
    finally:
        admin_channel.queue_delete(refusing)
    # The work queue took a copy of each nacked try as well: at least once, never lost (workers are
    # idempotent on the job id, R9).
    delivered = ours_in_queue(admin_channel, f"{prefix}.translate", job_id)
    assert delivered == [str(job_id)] * (row.attempts + 1), delivered
