"""Fixtures for the fault tests that need RabbitMQ names of their own (so breaking them touches no
other test): a queue prefix per test, and an outbox relay publishing to it."""
from __future__ import annotations

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
    """An outbox relay thread publishing to ``own_prefix`` (earlier tests' work retired first)."""
    from tests.conftest import relay_running

    with relay_running(app, database, database.AMQP_URL, own_prefix, _own_queue_prefix) as relay:
        yield relay
