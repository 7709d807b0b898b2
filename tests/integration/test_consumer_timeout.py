"""R12: a job that runs longer than RabbitMQ's consumer timeout does not loop.

RabbitMQ closes the channel of a consumer that holds a delivery unacked past ``consumer_timeout``
and requeues the message; a worker that acked only at the end would see its job delivered again
and again. Conveyor's worker acks right after the claim (shared.worker.consumer), so the broker
never times it out.

The shared broker's consumer timeout is a node-wide setting, so this test starts a PRIVATE RabbitMQ
node (its own name, ports, data and log in a temporary directory; consumer_timeout 5 s, checked
every 0.5 s) and never touches the shared one. Starting a node takes 5-10 s on an idle machine
(much longer on a loaded one).
"""
from __future__ import annotations

import time

import pika
import pytest

from tests.broker_tools import PRIVATE_NODE_POSSIBLE, PrivateRabbit
from tests.conftest import relay_running, wait_for
from tests.integration.test_pipeline import submit, wait_status

CONSUMER_TIMEOUT_MS = 5000  # slack for the claim before the ack on a loaded machine
JOB_SECONDS = 12.0
TIMED_OUT = "timed out waiting for delivery acknowledgement"

pytestmark = [pytest.mark.usefixtures("translate_pairs_registered"),
              pytest.mark.skipif(not PRIVATE_NODE_POSSIBLE,
                                 reason="needs RabbitMQ's server scripts and root (a private node)")]


@pytest.fixture
def private_rabbit():
    rabbit = PrivateRabbit("r12faults", consumer_timeout_ms=CONSUMER_TIMEOUT_MS, channel_tick_ms=500)
    try:
        rabbit.start()
        yield rabbit
    finally:
        rabbit.stop()


@pytest.fixture
def relay_to_private(database, app, private_rabbit, own_prefix, _own_queue_prefix):
    """An outbox relay thread publishing to the private node (the own_prefix names there).

    Earlier tests' work is retired first (``relay_running``): published here, their jobs once reached
    this test's worker and each ran its 12-second handler, so the worker was still busy with them
    when the test gave up waiting for it (CI of stop 21)."""
    with relay_running(app, database, private_rabbit.url, own_prefix, _own_queue_prefix) as relay:
        yield relay


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
