"""Fixtures for the fault tests that need RabbitMQ names of their own (so breaking them touches no
other test): a queue prefix per test, and an outbox relay publishing to it."""
from __future__ import annotations

import threading
import uuid

import pytest


@pytest.fixture
def own_prefix(config):
    """A fresh exchange/queue prefix, its topology declared now and deleted after the test."""
    from tests.broker_tools import BrokerTools
    prefix = f"faults{uuid.uuid4().hex[:10]}"
    tools = BrokerTools(config.AMQP_URL, prefix)
    yield prefix
    tools.delete_everything()


@pytest.fixture
def prefix_relay(database, app, own_prefix, _own_queue_prefix):
    """An outbox relay thread publishing to ``own_prefix``.

    It reads the shared outbox: rows earlier tests left pending are discarded first.
    """
    from services.relay.outbox import OutboxRelay
    from shared.db import database_app
    from shared.messaging import Publisher
    from tests.conftest import _retire_earlier_tests_work

    _retire_earlier_tests_work(app, _own_queue_prefix)

    stop = threading.Event()
    relay = OutboxRelay(database_app(database), Publisher(database.AMQP_URL, own_prefix))
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    yield relay
    stop.set()
    thread.join(10)
