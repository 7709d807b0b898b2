"""The broker ends a worker's channel, or its consumer, while the connection stays open.

A channel error (an unknown delivery tag, a consumer timeout) makes RabbitMQ close the channel only;
a deleted queue (or, on a cluster, a queue whose node left) makes it cancel the consumer. Either way
the connection is fine and its heartbeats keep flowing, so a worker that watched only the
connection would sit on a dead channel and never take a job again. The worker reconnects, declares
its queue again and goes on consuming.
"""
from __future__ import annotations

import logging

import pika
import pytest

from shared.messaging import queue_name
from tests.conftest import wait_for
from tests.integration.test_pipeline import submit, wait_status

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


@pytest.fixture
def worker_on_own_queues(own_prefix, prefix_relay, start_worker, monkeypatch, caplog):
    monkeypatch.setenv("CONVEYOR_AMQP_PREFIX", own_prefix)
    caplog.set_level(logging.WARNING, logger="shared.worker.consumer")
    return start_worker(handler=lambda job, io: {"translated_text": job["params"]["text"].upper()})


def _runs_a_job(client, make_user) -> None:
    user = make_user()
    job = submit(client, user, text="still here")
    done = wait_status(client, user, job["id"], timeout=30)
    assert done["status"] == "succeeded"
    assert client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers).json["result"][
        "translated_text"] == "STILL HERE"


def test_a_channel_closed_by_the_broker_is_reopened(client, make_user, worker_on_own_queues, caplog):
    worker = worker_on_own_queues
    first_channel = worker._channel
    # Acknowledging a delivery the broker never made is a channel error: it closes the channel (406).
    worker._threadsafe(lambda: first_channel.basic_ack(987654))
    wait_for(lambda: first_channel.is_closed, message="the broker closing the channel")
    wait_for(lambda: worker._channel is not None and worker._channel is not first_channel
             and worker._channel.is_open and worker._consumer_tag is not None, message="a new channel consuming")
    assert any("broker closed the channel" in record.getMessage() for record in caplog.records)
    _runs_a_job(client, make_user)


def test_a_consumer_cancelled_by_the_broker_consumes_again(client, make_user, config, own_prefix,
                                                            worker_on_own_queues, caplog):
    worker = worker_on_own_queues
    first_channel = worker._channel
    connection = pika.BlockingConnection(pika.URLParameters(config.AMQP_URL))
    try:
        connection.channel().queue_delete(queue_name(own_prefix, "translate"))
    finally:
        connection.close()
    wait_for(lambda: worker._channel is not first_channel and worker._channel is not None
             and worker._consumer_tag is not None, message="the worker consuming its declared-again queue")
    assert any("broker cancelled the consumer" in record.getMessage() for record in caplog.records)
    _runs_a_job(client, make_user)
