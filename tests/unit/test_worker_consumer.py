"""The worker base's pika side (shared.worker.consumer) against a recording stand-in for the channel.

What is pinned here: the connection's parameters and the channel's set-up, what each delivery ends in
(acked, paused, requeued, rejected), the reconnect loop and its backoff, and the signal handling.
The same worker against the real broker: tests/integration (test_pipeline, test_recovery, R11/R12).
"""
from __future__ import annotations

import json
import logging
import signal
import threading
import types

import pika
import pytest

from shared.config import Config
from shared.internal_api import ApiError, ApiUnavailable
from shared.worker import consumer, registry
from shared.worker.consumer import ChannelLost, Worker

# Each test reads its own logger's records (tests/conftest.py, root_at_warning).
pytestmark = pytest.mark.usefixtures("root_at_warning")


class Channel:
    """Records the calls a worker makes on its channel, in ``log`` (shared with its connection)."""

    def __init__(self, log: list):
        self.log = log
        self.is_open = True
        self.on_cancel = None
        self.tags = 0

    @property
    def is_closed(self) -> bool:
        return not self.is_open

    def add_on_cancel_callback(self, callback):
        self.on_cancel = callback

    def basic_qos(self, **kwargs):
        self.log.append(("qos", kwargs))

    def exchange_declare(self, name, **kwargs):
        self.log.append(("exchange", name))

    def queue_declare(self, name, **kwargs):
        self.log.append(("queue", name))

    def queue_bind(self, queue, exchange, routing_key):
        self.log.append(("bind", queue, exchange, routing_key))

    def basic_consume(self, queue, callback):
        self.tags += 1
        self.log.append(("consume", queue, callback))
        return f"ctag-{self.tags}"

    def basic_cancel(self, tag):
        self.log.append(("cancel", tag))

    def basic_ack(self, tag):
        self.log.append(("ack", tag))

    def basic_nack(self, tag, requeue):
        self.log.append(("nack", tag, requeue))

    def basic_reject(self, tag, requeue):
        self.log.append(("reject", tag, requeue))


class Connection:
    """Runs thread-safe callbacks at once; ``events`` are run one per process_data_events call."""

    def __init__(self, log: list, events=()):
        self.log = log
        self.is_open = True
        self.channels: list[Channel] = []
        self.events = list(events)
        self.wrong_state = False

    def channel(self) -> Channel:
        self.channels.append(Channel(self.log))
        return self.channels[-1]

    def add_callback_threadsafe(self, callback):
        if self.wrong_state:
            raise pika.exceptions.ConnectionWrongStateError("closing")
        self.log.append(("threadsafe",))
        callback()

    def process_data_events(self, time_limit):
        self.log.append(("events", time_limit))
        self.events.pop(0)(self)

    def close(self):
        self.log.append(("close",))
        self.is_open = False


class Broker:
    """Stands in for pika.BlockingConnection: hands out the scripted connections, or raises."""

    def __init__(self, log: list, outcomes):
        self.log = log
        self.outcomes = list(outcomes)
        self.params = []

    def __call__(self, params):
        self.params.append(params)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class Api:
    """The internal API calls of the consumer: claim answers ``claims`` in turn (or raises them)."""

    def __init__(self, *claims):
        self.claims = list(claims)
        self.calls = []

    def claim(self, job_id, worker_id):
        self.calls.append(("claim", job_id, worker_id))
        answer = self.claims.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def fail(self, job_id, claim_id, error, transient):
        self.calls.append(("fail", job_id, claim_id, error, transient))


class Runner:
    def __init__(self, log):
        self.log = log

    def execute(self, job, claim_id):
        self.log.append(("execute", job, claim_id))


class Stopping(threading.Event):
    """The worker's stop event, recording each wait's delay instead of sleeping; ``stop_at`` waits."""

    def __init__(self, stop_at: int = 0):
        super().__init__()
        self.waits: list[float] = []
        self.stop_at = stop_at

    def wait(self, timeout=None):
        self.waits.append(timeout)
        if len(self.waits) >= self.stop_at:
            self.set()
        return self.is_set()


class Threads:
    """consumer.threading with every started Thread kept, so a test can join them."""

    def __init__(self):
        self.started = []
        outer = self

        class Thread(threading.Thread):
            def start(self):
                outer.started.append(self)
                super().start()

        self.Thread = Thread

    def __getattr__(self, name):
        return getattr(threading, name)

    def join(self):
        for thread in self.started:
            thread.join(5)
            assert not thread.is_alive()


def settings(monkeypatch) -> Config:
    monkeypatch.setenv("AMQP_URL", "amqp://u:p@broker.test:5673/vh")
    monkeypatch.setenv("CONVEYOR_AMQP_PREFIX", "unit")
    monkeypatch.setenv("CONVEYOR_AMQP_HEARTBEAT_SECONDS", "17")
    monkeypatch.setenv("CONVEYOR_API_URL", "http://api.test:9/")
    monkeypatch.setenv("CONVEYOR_WORKER_TOKEN", "tok-1")
    return Config()


@pytest.fixture
def log():
    return []


@pytest.fixture
def threads(monkeypatch):
    recorder = Threads()
    monkeypatch.setattr(consumer, "threading", recorder)
    return recorder


@pytest.fixture
def worker(monkeypatch, log, threads):
    made = Worker("translate", handler=lambda job, io: None, config=settings(monkeypatch), worker_id="w-1")
    made.api = Api()
    made.runner = Runner(log)
    return made


def connected(worker, monkeypatch, log, events=()) -> tuple[Connection, Channel]:
    connection = Connection(log, events)
    monkeypatch.setattr(consumer.pika, "BlockingConnection", Broker(log, [connection]))
    worker.connect()
    log.clear()
    return connection, connection.channels[0]


def message(job_id="j1", kind="translate", schema_version=1) -> bytes:
    return json.dumps({"job_id": job_id, "kind": kind, "attempt": 1, "schema_version": schema_version}).encode()


def delivery(tag=7):
    return types.SimpleNamespace(delivery_tag=tag)


# --- construction and connect -----------------------------------------------------------------------


def test_a_worker_is_named_after_its_kind_host_and_process_and_talks_to_the_configured_api(monkeypatch):
    handler = lambda job, io: None  # noqa: E731
    made = Worker("asr", handler, config=settings(monkeypatch))
    assert made.worker_id == f"asr-{consumer.socket.gethostname()}-{consumer.os.getpid()}"
    assert made.queue == "unit.asr" and made.kind == "asr" and made.handler is handler
    assert made.api.base_url == "http://api.test:9/internal/v1"
    assert made.api.session.headers["X-Worker-Token"] == "tok-1"
    assert made.runner.api is made.api and made.runner.handler is handler
    assert made.capabilities() == {} and made.recheck_capabilities_every is None
    assert (made._connection, made._channel, made._consumer_tag) == (None, None, None)
    assert made._consumer_cancelled is False and not made._busy.is_set() and not made._stopping.is_set()
    assert Worker("asr", handler, config=settings(monkeypatch), worker_id="given").worker_id == "given"


def test_a_worker_reads_the_environment_when_given_no_config(monkeypatch):
    settings(monkeypatch)
    assert Worker("asr", lambda job, io: None).queue == "unit.asr"


def test_connect_opens_one_connection_sets_prefetch_one_declares_the_queue_and_consumes(worker, monkeypatch, log):
    connection = Connection(log)
    broker = Broker(log, [connection])
    monkeypatch.setattr(consumer.pika, "BlockingConnection", broker)
    worker.connect()
    [params] = broker.params
    assert (params.host, params.port, params.virtual_host) == ("broker.test", 5673, "vh")
    assert (params.heartbeat, params.blocked_connection_timeout, params.connection_attempts) == (17, 60, 1)
    assert log == [
        ("qos", {"prefetch_count": 1}),
        ("exchange", "unit.jobs"), ("exchange", "unit.dlx"),
        ("queue", "unit.translate.dlq"), ("bind", "unit.translate.dlq", "unit.dlx", "translate"),
        ("queue", "unit.translate"), ("bind", "unit.translate", "unit.jobs", "translate"),
        ("consume", "unit.translate", worker.on_message),
    ]
    assert worker._connection is connection and worker._channel is connection.channels[0]
    assert worker._consumer_tag == "ctag-1"


def test_connect_while_a_job_runs_does_not_consume_until_the_job_is_over(worker, monkeypatch, log):
    worker._busy.set()
    connection, channel = connected(worker, monkeypatch, log)
    assert worker._consumer_tag is None
    worker._resume()
    assert log == [("consume", "unit.translate", worker.on_message)] and not worker._busy.is_set()
    assert worker._consumer_tag == "ctag-1"


def test_connect_after_stop_does_not_consume(worker, monkeypatch, log):
    worker.stop()
    connected(worker, monkeypatch, log)
    assert worker._consumer_tag is None


def test_a_reconnect_forgets_the_old_consumer_and_a_broker_cancel(worker, monkeypatch, log):
    connected(worker, monkeypatch, log)
    worker._connection.channels[0].on_cancel(object())
    assert worker._consumer_cancelled and worker._consumer_tag is None
    connection, channel = connected(worker, monkeypatch, log)
    assert worker._consumer_cancelled is False and worker._consumer_tag == "ctag-1"
    worker._check_channel()  # nothing to raise


def test_a_consumer_the_broker_cancelled_is_a_lost_channel(worker, monkeypatch, log):
    connection, channel = connected(worker, monkeypatch, log)
    channel.on_cancel(object())
    with pytest.raises(ChannelLost, match="^the broker cancelled the consumer$"):
        worker._check_channel()


def test_a_closed_or_missing_channel_is_a_lost_channel(worker, monkeypatch, log):
    connection, channel = connected(worker, monkeypatch, log)
    channel.is_open = False
    with pytest.raises(ChannelLost, match="^the broker closed the channel$"):
        worker._check_channel()
    worker.close()
    with pytest.raises(ChannelLost, match="^the broker closed the channel$"):
        worker._check_channel()


def test_a_worker_never_connected_has_no_channel_and_no_consumer_to_pause(worker):
    with pytest.raises(ChannelLost, match="^the broker closed the channel$"):
        worker._check_channel()
    log = []
    channel = Channel(log)
    worker.ack(channel, 1, pause=True)
    assert log == [("ack", 1)]


def test_close_closes_an_open_connection_once_and_forgets_it(worker, monkeypatch, log):
    connection, channel = connected(worker, monkeypatch, log)
    worker.close()
    worker.close()
    assert log == [("close",)] and worker._connection is None and worker._channel is None


def test_no_consumer_on_a_closed_channel(worker, monkeypatch, log):
    worker._busy.set()
    connection, channel = connected(worker, monkeypatch, log)
    channel.is_open = False
    worker._start_consuming()
    assert log == [] and worker._consumer_tag is None


# --- deliveries ---------------------------------------------------------------------------------------


def test_a_claimed_job_stops_consumption_is_acked_runs_then_consumption_resumes(worker, monkeypatch, log, threads):
    connection, channel = connected(worker, monkeypatch, log)
    worker.api = Api({"claimed": True, "claim_id": 42, "job": {"id": "j1"}})
    worker.on_message(channel, delivery(7), None, message("j1"))
    threads.join()
    assert [thread.name for thread in threads.started] == ["job-j1"]
    assert all(thread.daemon for thread in threads.started)
    assert worker.api.calls == [("claim", "j1", "w-1")]
    assert log == [("threadsafe",), ("cancel", "ctag-1"), ("ack", 7),
                   ("execute", {"id": "j1"}, "42"),
                   ("threadsafe",), ("consume", "unit.translate", worker.on_message)]
    assert not worker._busy.is_set() and worker._consumer_tag == "ctag-2"


def test_the_worker_is_busy_while_its_job_runs(worker, monkeypatch, log, threads):
    connection, channel = connected(worker, monkeypatch, log)
    worker.api = Api({"claimed": True, "claim_id": "c", "job": {"id": "j1"}})
    seen = []
    worker.runner.execute = lambda job, claim_id: seen.append(worker._busy.is_set())
    worker.on_message(channel, delivery(), None, message())
    threads.join()
    assert seen == [True] and not worker._busy.is_set()


def test_the_job_thread_logs_under_the_job_id(worker, monkeypatch, log, threads):
    connection, channel = connected(worker, monkeypatch, log)
    worker.api = Api({"claimed": False, "reason": "already done"})
    tagged = []
    monkeypatch.setattr(consumer, "set_job_context", tagged.append)
    worker.on_message(channel, delivery(), None, message("j9"))
    threads.join()
    assert tagged == ["j9"]


def test_a_job_with_nothing_to_do_is_acked_and_consumption_goes_on(worker, monkeypatch, log, threads, caplog):
    connection, channel = connected(worker, monkeypatch, log)
    worker.api = Api({"claimed": False, "reason": "cancelled"})
    with caplog.at_level(logging.INFO, logger="shared.worker.consumer"):
        worker.on_message(channel, delivery(3), None, message("j1"))
        threads.join()
    assert log == [("threadsafe",), ("ack", 3), ("threadsafe",)]
    assert worker._consumer_tag == "ctag-1" and not worker._busy.is_set()
    assert "job j1: nothing to do (cancelled)" in caplog.messages


def test_a_refused_claim_drops_the_message(worker, monkeypatch, log, threads, caplog):
    connection, channel = connected(worker, monkeypatch, log)
    worker.api = Api(ApiError(409, "gone"))
    with caplog.at_level(logging.WARNING, logger="shared.worker.consumer"):
        worker.on_message(channel, delivery(4), None, message("j1"))
        threads.join()
    assert log == [("threadsafe",), ("ack", 4), ("threadsafe",)]
    assert caplog.messages == ["job j1: claim refused (409: gone); dropping the message"]


def test_an_unreachable_api_requeues_the_message(worker, monkeypatch, log, threads, caplog):
    connection, channel = connected(worker, monkeypatch, log)
    worker.api = Api(ApiUnavailable("POST /claim: timeout"))
    with caplog.at_level(logging.WARNING, logger="shared.worker.consumer"):
        worker.on_message(channel, delivery(5), None, message("j1"))
        threads.join()
    assert log == [("threadsafe",), ("nack", 5, True), ("threadsafe",)]
    assert caplog.messages == ["job j1: API unavailable (POST /claim: timeout); message requeued"]
    assert not worker._busy.is_set()


def test_nothing_is_acked_or_nacked_on_a_closed_channel(worker, monkeypatch, log):
    connection, channel = connected(worker, monkeypatch, log)
    channel.is_open = False
    worker.ack(channel, 1, pause=True)
    worker._requeue(channel, 1)
    assert log == [] and worker._consumer_tag == "ctag-1"


def test_an_ack_without_pause_keeps_consuming_and_a_pause_without_consumer_only_acks(worker, monkeypatch, log):
    connection, channel = connected(worker, monkeypatch, log)
    worker.ack(channel, 1)
    assert log == [("ack", 1)] and worker._consumer_tag == "ctag-1"
    worker._consumer_tag = None
    worker.ack(channel, 2, pause=True)
    assert log == [("ack", 1), ("ack", 2)]


@pytest.mark.parametrize("how", ["closed", "gone", "wrong state"])
def test_a_job_whose_connection_is_gone_leaves_the_ack_to_the_broker_and_frees_the_worker(
        worker, monkeypatch, log, threads, caplog, how):
    connection, channel = connected(worker, monkeypatch, log)
    worker.api = Api({"claimed": True, "claim_id": "c1", "job": {"id": "j1"}})
    if how == "closed":
        connection.is_open = False
    elif how == "gone":
        worker._connection = None
    else:
        connection.wrong_state = True
    with caplog.at_level(logging.WARNING, logger="shared.worker.consumer"):
        worker.on_message(channel, delivery(6), None, message("j1"))
        threads.join()
    assert log == [("execute", {"id": "j1"}, "c1")]  # the job still runs: the broker redelivers its message
    assert not worker._busy.is_set()
    warned = ["w-1: connection gone; the broker redelivers unacked messages"] * 2
    assert caplog.messages == ([] if how == "wrong state" else warned)


def test_the_threadsafe_path_reports_whether_the_callback_was_queued(worker, monkeypatch, log):
    connection, channel = connected(worker, monkeypatch, log)
    ran = []
    assert worker._threadsafe(lambda: ran.append(1)) is True
    connection.wrong_state = True
    assert worker._threadsafe(lambda: ran.append(2)) is False
    connection.wrong_state, connection.is_open = False, False
    assert worker._threadsafe(lambda: ran.append(3)) is False
    assert ran == [1]


def test_a_job_that_raises_still_frees_the_worker(worker, monkeypatch, log):
    connection, channel = connected(worker, monkeypatch, log)
    worker.api = Api({"claimed": True, "claim_id": "c1", "job": {"id": "j1"}})

    def crash(job, claim_id):
        raise RuntimeError("handler bug")

    worker.runner.execute = crash
    worker._busy.set()
    with pytest.raises(RuntimeError):
        worker._run_job(channel, 8, {"job_id": "j1"})
    assert not worker._busy.is_set() and worker._consumer_tag == "ctag-2"


@pytest.mark.parametrize("body, reason", [
    (b"\xff not json", "not JSON"),
    (json.dumps({"kind": "translate"}).encode(), "no job_id"),
    (message(kind="asr"), "message for kind 'asr' on the translate queue"),
])
def test_a_poison_message_without_a_job_id_is_dead_lettered_and_nothing_else(
        worker, monkeypatch, log, threads, caplog, body, reason):
    connection, channel = connected(worker, monkeypatch, log)
    with caplog.at_level(logging.ERROR, logger="shared.worker.consumer"):
        worker.on_message(channel, delivery(9), None, body)
    threads.join()
    assert log == [("reject", 9, False)] and threads.started == [] and worker.api.calls == []
    assert not worker._busy.is_set()
    [logged] = caplog.messages
    assert logged.startswith(f"w-1: dead-lettering a poison message: {reason}")


def test_a_poison_message_naming_a_job_is_dead_lettered_and_its_job_failed(worker, monkeypatch, log, threads):
    connection, channel = connected(worker, monkeypatch, log)
    worker.api = Api({"claimed": True, "claim_id": 12})
    worker.on_message(channel, delivery(9), None, message("j5", schema_version=99))
    threads.join()
    assert log == [("reject", 9, False)] and not worker._busy.is_set()
    assert [thread.daemon for thread in threads.started] == [True]
    assert worker.api.calls == [("claim", "j5", "w-1"),
                                ("fail", "j5", "12", "unusable job message: unsupported schema_version 99", False)]


def test_a_poisoned_job_already_taken_is_left_alone(worker, monkeypatch, log):
    worker.api = Api({"claimed": False, "reason": "not queued"})
    worker._fail_poisoned("j5", "bad")
    assert worker.api.calls == [("claim", "j5", "w-1")]


@pytest.mark.parametrize("error", [ApiError(404, "no such job"), ApiUnavailable("down")])
def test_a_poisoned_job_the_api_cannot_fail_is_logged(worker, caplog, error):
    worker.api = Api(error)
    with caplog.at_level(logging.WARNING, logger="shared.worker.consumer"):
        worker._fail_poisoned("j5", "bad")
    assert caplog.messages == [f"job j5: could not fail the poisoned job ({error})"]


# --- the run loop ---------------------------------------------------------------------------------------


@pytest.fixture
def quiet_run(monkeypatch):
    """run() without the registry thread or a supervisor; the registry calls are recorded."""
    calls = []
    monkeypatch.setattr(consumer, "registry_loop", lambda *args: calls.append(args))
    return calls


def run_in_thread(worker):
    """run() off the main thread: no signal handlers are installed."""
    thread = threading.Thread(target=worker.run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()


def lose(error):
    def event(connection):
        raise error
    return event


def close_channel(connection):
    connection.channels[0].is_open = False


def test_reconnect_waits_double_each_time_up_to_two_seconds_then_starts_again_at_half_a_second(
        worker, monkeypatch, log, quiet_run, caplog):
    down = pika.exceptions.AMQPConnectionError("refused")
    good = Connection(log, [lambda c: None, close_channel])
    broker = Broker(log, [down, down, down, down, good, down])
    monkeypatch.setattr(consumer.pika, "BlockingConnection", broker)
    worker._stopping = Stopping(stop_at=6)
    with caplog.at_level(logging.WARNING, logger="shared.worker.consumer"):
        run_in_thread(worker)
    assert worker._stopping.waits == [0.5, 1.0, 2.0, 2.0, 0.5, 1.0]
    assert [entry for entry in log if entry[0] in ("events", "close", "consume")] == [
        ("consume", "unit.translate", worker.on_message), ("events", 0.5), ("events", 0.5), ("close",)]
    assert len(broker.params) == 6
    assert caplog.messages[0] == "w-1: broker connection lost (AMQPConnectionError); reconnecting in 0.5s [refused]"
    assert caplog.messages[4] == ("w-1: broker connection lost (ChannelLost); reconnecting in 0.5s "
                                  "[the broker closed the channel]")


@pytest.mark.parametrize("error", [pika.exceptions.StreamLostError("reset"),
                                   pika.exceptions.ConnectionClosedByBroker(320, "shutdown"),
                                   pika.exceptions.AMQPConnectionError("heartbeat")])
def test_a_connection_lost_while_consuming_is_closed_and_opened_again(worker, monkeypatch, log, quiet_run, error):
    first = Connection(log, [lose(error)])
    second = Connection(log, [lambda c: worker.stop()])
    monkeypatch.setattr(consumer.pika, "BlockingConnection", Broker(log, [first, second]))
    worker._stopping = Stopping(stop_at=99)
    run_in_thread(worker)
    assert worker._stopping.waits == [0.5]
    assert not first.is_open and not second.is_open
    assert [entry[0] for entry in log if entry[0] in ("consume", "events", "close")] == [
        "consume", "events", "close", "consume", "events", "close"]


def test_a_consumer_cancelled_by_the_broker_means_a_reconnect(worker, monkeypatch, log, quiet_run):
    first = Connection(log, [lambda c: c.channels[0].on_cancel(object())])
    second = Connection(log, [lambda c: worker.stop()])
    monkeypatch.setattr(consumer.pika, "BlockingConnection", Broker(log, [first, second]))
    worker._stopping = Stopping(stop_at=99)
    run_in_thread(worker)
    assert worker._stopping.waits == [0.5] and not first.is_open


def test_another_error_is_not_taken_for_a_broker_outage(worker, monkeypatch, log, quiet_run):
    monkeypatch.setattr(consumer.pika, "BlockingConnection", Broker(log, [ValueError("bug")]))
    raised = []
    thread = threading.Thread(target=lambda: raised.append(pytest.raises(ValueError, worker.run)))
    thread.start()
    thread.join(10)
    assert [str(info.value) for info in raised] == ["bug"]


def test_a_stop_lets_the_running_job_finish_before_leaving(worker, monkeypatch, log, quiet_run, caplog):
    def stop_while_busy(connection):
        worker._busy.set()
        worker.stop()

    connection = Connection(log, [stop_while_busy, lambda c: None, lambda c: worker._busy.clear()])
    monkeypatch.setattr(consumer.pika, "BlockingConnection", Broker(log, [connection]))
    with caplog.at_level(logging.INFO, logger="shared.worker.consumer"):
        run_in_thread(worker)
    assert [entry for entry in log if entry[0] in ("events", "close")] == [("events", 0.5)] * 3 + [("close",)]
    assert caplog.messages[-1] == "w-1 stopped"
    assert caplog.messages[0] == "w-1 connected; consuming unit.translate"


def test_a_stop_during_the_reconnect_wait_still_waits_for_the_running_job(worker, monkeypatch, log, quiet_run):
    monkeypatch.setattr(consumer.pika, "BlockingConnection",
                        Broker(log, [pika.exceptions.AMQPConnectionError("down")]))
    worker._stopping = Stopping(stop_at=1)
    worker._busy.set()
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        worker._busy.clear()

    monkeypatch.setattr(consumer.time, "sleep", sleep)
    run_in_thread(worker)
    assert slept == [0.1] and worker._stopping.waits == [0.5]


def test_run_announces_the_worker_to_its_supervisor_and_starts_the_registry(worker, monkeypatch, log, quiet_run,
                                                                            threads):
    inbox = []
    monkeypatch.setattr(registry, "_supervisor_inbox", types.SimpleNamespace(put=inbox.append))
    monkeypatch.setattr(consumer.pika, "BlockingConnection", Broker(log, [Connection(log, [lambda c: worker.stop()])]))
    worker.capabilities = lambda: {"pairs": 1}
    run_in_thread(worker)
    threads.join()
    assert inbox == ["w-1"]
    [registry_thread] = [thread for thread in threads.started if thread.name == "registry"]
    assert registry_thread.daemon
    [(api, worker_id, kind, capabilities, stopping, every)] = quiet_run
    assert (api, worker_id, kind, capabilities, stopping, every) == (
        worker.api, "w-1", "translate", worker.capabilities, worker._stopping, 30.0)


def test_the_registry_rechecks_capabilities_as_often_as_asked(monkeypatch, quiet_run):
    made = Worker("translate", lambda job, io: None, config=settings(monkeypatch), recheck_capabilities_every=2.5)
    assert made.recheck_capabilities_every == 2.5
    made._registry_loop()
    assert quiet_run[0][-1] == 2.5


# --- signals -------------------------------------------------------------------------------------------------


def test_the_first_signal_stops_after_the_job_and_the_second_leaves_at_once(worker, monkeypatch, caplog):
    installed = {}
    monkeypatch.setattr(consumer.signal, "signal", lambda signum, handler: installed.__setitem__(signum, handler))
    exits = []

    class Left(Exception):
        pass

    def leave(status):
        exits.append(status)
        raise Left

    monkeypatch.setattr(consumer.os, "_exit", leave)
    worker._install_signal_handlers()
    assert set(installed) == {signal.SIGTERM, signal.SIGINT}
    with caplog.at_level(logging.INFO, logger="shared.worker.consumer"):
        installed[signal.SIGTERM](signal.SIGTERM, None)
        assert worker._stopping.is_set() and exits == []
        with pytest.raises(Left):
            installed[signal.SIGINT](signal.SIGINT, None)
    assert exits == [1]
    assert caplog.messages == ["w-1: stopping after the current job",
                               "w-1: second signal, leaving now; the supervisor (or the lease) hands the job back"]


def test_no_signal_handlers_off_the_main_thread(worker, monkeypatch):
    installed = []
    monkeypatch.setattr(consumer.signal, "signal", lambda *args: installed.append(args))
    thread = threading.Thread(target=worker._install_signal_handlers)
    thread.start()
    thread.join()
    assert installed == []
