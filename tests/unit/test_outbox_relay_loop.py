"""The outbox relay's loop (services.relay.outbox: ``_listen`` and ``run``) around recording stand-ins.

What is pinned here: the LISTEN it opens, a batch taken again while it came back full, the reaper's
period, the wait on NOTIFY, an error closing the listener and pausing two seconds, and what is closed
on stop. The batch itself: test_outbox_relay_batch.py; the loop against PostgreSQL and RabbitMQ:
tests/integration/test_outbox_relay.py and test_outbox_real_broker.py.
"""
from __future__ import annotations

import contextlib
import logging

import pytest

from services.relay import outbox
from services.relay.outbox import OutboxRelay

# Each test reads its own logger's records (tests/conftest.py, root_at_warning).
pytestmark = pytest.mark.usefixtures("root_at_warning")


class Listener:
    """A LISTEN connection: records the statements, the waits for a notification, and closing."""

    def __init__(self, log):
        self.log = log

    def execute(self, statement):
        self.log.append(("execute", statement))

    def notifies(self, timeout, stop_after):
        self.log.append(("notifies", timeout, stop_after))
        return iter([object()])

    def close(self):
        self.log.append(("close listener", self))


class Publisher:
    def __init__(self, log):
        self.log = log

    def process_events(self):
        self.log.append(("process_events",))

    def close(self):
        self.log.append(("close publisher",))


class Stop:
    """The stop event: set after ``rounds`` checks answered False; each wait is recorded."""

    def __init__(self, rounds: int):
        self.rounds = rounds
        self.waits = []

    def is_set(self):
        self.rounds -= 1
        return self.rounds < 0

    def wait(self, seconds):
        self.waits.append(seconds)


class App:
    def __init__(self, log):
        self.log = log
        self.config = {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u:pw@db.test:5433/conv",
                       "LEASE_SECONDS": 60, "MAX_ATTEMPTS": 3, "RETRY_BACKOFF_SECONDS": 5}

    @contextlib.contextmanager
    def app_context(self):
        self.log.append(("enter",))
        yield
        self.log.append(("exit",))


@pytest.fixture
def log():
    return []


@pytest.fixture
def relay(log, monkeypatch):
    made = OutboxRelay(App(log), Publisher(log))
    listeners = []

    def listen():
        listeners.append(Listener(log))
        log.append(("listen", listeners[-1]))
        return listeners[-1]

    monkeypatch.setattr(made, "_listen", listen)
    made.listeners = listeners
    return made


def batches(relay, log, *answers):
    """relay_batch answers ``answers`` in turn (an exception is raised)."""
    pending = list(answers)

    def relay_batch():
        answer = pending.pop(0)
        log.append(("batch",))
        if isinstance(answer, BaseException):
            raise answer
        return answer

    relay.relay_batch = relay_batch


def reaps(relay, log, monkeypatch, clock):
    """The reaper recorded; time.monotonic answers ``clock`` in turn."""
    ticks = list(clock)
    monkeypatch.setattr(outbox.time, "monotonic", lambda: ticks.pop(0))
    relay.reap = lambda: log.append(("reap",))


def test_listen_opens_an_autocommit_connection_to_the_configured_database_and_listens(log, monkeypatch):
    connected = []

    def connect(url, autocommit):
        connected.append((url, autocommit))
        return Listener(log)

    monkeypatch.setattr(outbox.psycopg, "connect", connect)
    listener = OutboxRelay(App(log), Publisher(log))._listen()
    assert isinstance(listener, Listener)
    assert connected == [("postgresql://u:pw@db.test:5433/conv", True)]
    assert log == [("execute", "LISTEN conveyor_outbox")]


def test_one_round_relays_reaps_pumps_the_broker_then_waits_for_a_notification(relay, log, monkeypatch):
    batches(relay, log, 3)
    reaps(relay, log, monkeypatch, [1000.0, 1000.5])
    relay.run(Stop(rounds=1))
    [listener] = relay.listeners
    assert log == [("enter",), ("listen", listener), ("batch",), ("reap",), ("exit",),
                   ("process_events",), ("notifies", 1.0, 1),
                   ("close publisher",), ("close listener", listener)]


def test_a_full_batch_is_followed_at_once_by_another(relay, log, monkeypatch):
    batches(relay, log, 100, 100, 99, 100, 0)
    reaps(relay, log, monkeypatch, [1000.0, 1000.0, 1000.1])
    relay.run(Stop(rounds=2))
    assert [entry[0] for entry in log if entry[0] in ("batch", "notifies")] == [
        "batch", "batch", "batch", "notifies", "batch", "batch", "notifies"]


def test_the_listener_is_opened_once_and_kept(relay, log, monkeypatch):
    batches(relay, log, 0, 0, 0)
    reaps(relay, log, monkeypatch, [1000.0, 1000.0, 1000.1, 1000.2])
    relay.run(Stop(rounds=3))
    assert len(relay.listeners) == 1
    assert [entry[0] for entry in log].count("close listener") == 1


def test_the_reaper_runs_when_more_than_two_seconds_passed_since_its_last_run(relay, log, monkeypatch):
    batches(relay, log, 0, 0, 0, 0)
    # round 1 reaps (at 5.0, taken as its time); 7.0 is exactly 2 s later: not yet; 7.01 is.
    reaps(relay, log, monkeypatch, [5.0, 5.0, 7.0, 7.01, 7.5, 8.0])
    relay.run(Stop(rounds=4))
    assert [entry[0] for entry in log if entry[0] in ("batch", "reap")] == [
        "batch", "reap", "batch", "batch", "reap", "batch"]


def test_the_first_round_reaps_at_once(relay, log, monkeypatch):
    batches(relay, log, 0)
    reaps(relay, log, monkeypatch, [2.5, 2.5])
    relay.run(Stop(rounds=1))
    assert ("reap",) in log


def test_an_error_closes_the_listener_waits_two_seconds_and_starts_over_with_a_new_one(relay, log, monkeypatch,
                                                                                      caplog):
    batches(relay, log, RuntimeError("database is down"), 0)
    reaps(relay, log, monkeypatch, [1000.0, 1000.0])
    stop = Stop(rounds=2)
    with caplog.at_level(logging.ERROR, logger="services.relay.outbox"):
        relay.run(stop)
    first, second = relay.listeners
    assert stop.waits == [2.0]
    assert log == [("enter",), ("listen", first), ("batch",), ("close listener", first),
                   ("enter",), ("listen", second), ("batch",), ("reap",), ("exit",),
                   ("process_events",), ("notifies", 1.0, 1),
                   ("close publisher",), ("close listener", second)]
    assert caplog.messages == ["relay loop error: database is down; retrying in 2s"]


def test_an_error_before_any_listener_retries_the_listen(relay, log, monkeypatch):
    calls = []

    def listen():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("connection refused")
        return Listener(log)

    monkeypatch.setattr(relay, "_listen", listen)
    batches(relay, log, 0)
    reaps(relay, log, monkeypatch, [1000.0, 1000.0])
    stop = Stop(rounds=2)
    relay.run(stop)
    assert len(calls) == 2 and stop.waits == [2.0]
    assert [entry[0] for entry in log] == ["enter", "enter", "batch", "reap", "exit", "process_events",
                                           "notifies", "close publisher", "close listener"]


def test_a_broker_error_while_pumping_events_is_survived_too(relay, log, monkeypatch):
    batches(relay, log, 0, 0)
    reaps(relay, log, monkeypatch, [1000.0, 1000.0, 1000.1])

    def process_events():
        log.append(("process_events",))
        if log.count(("process_events",)) == 1:
            raise ConnectionError("broker gone")

    relay.publisher.process_events = process_events
    stop = Stop(rounds=2)
    relay.run(stop)
    assert stop.waits == [2.0] and len(relay.listeners) == 2


def test_stopping_before_any_round_closes_the_publisher_only(relay, log):
    relay.run(Stop(rounds=0))
    assert log == [("close publisher",)]
