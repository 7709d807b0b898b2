"""The pika side of the reusable worker: one consumer for every kind, around a pure ``process(job, io)``.

Life of a delivery (prefetch 1): the message is decoded (poison → dead-letter at
once), the job is claimed through the internal API on a work thread, then the
worker stops consuming and acks, so a job longer than RabbitMQ's consumer
timeout never loops and no second message waits behind a busy worker. While
the job runs, heartbeats renew its lease. If the worker process dies, its
supervisor tells the API at once and the job runs again (shared.worker.supervisor);
if the whole host is lost, the relay's reaper hands the job back after the lease
(at most ``CONVEYOR_MAX_ATTEMPTS`` in all).
Acks and consumer changes go back to the connection thread through
``add_callback_threadsafe``.

Running the claimed job (handler, lease renewal, report) is shared.worker.runner's;
the periodic registration is shared.worker.registry's.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from typing import Any, Callable, Optional

import pika
from pika.adapters.blocking_connection import BlockingChannel

from shared.config import Config
from shared.handler import Handler
from shared.internal_api import ApiError, ApiUnavailable, InternalApi
from shared.logging_setup import set_job_context
from shared.messaging import PoisonMessage, close_quietly, declare_topology, decode_message, queue_name
from shared.worker.registry import REGISTRY_EVERY_SECONDS, registry_loop, tell_supervisor
from shared.worker.runner import JobRunner

LOGGER = logging.getLogger(__name__)

# Reconnect attempts to a broker that is down cost one refused TCP connection each, so they stay
# frequent: work resumes within about this long after the broker is back.
FIRST_RECONNECT_DELAY = 0.5
MAX_RECONNECT_DELAY = 2.0


class ChannelLost(Exception):
    """The broker closed the worker's channel, or cancelled its consumer, on a connection still open."""


class Worker:
    """Consumes one kind's queue and runs its handler on a work thread, one job at a time."""

    def __init__(self, kind: str, handler: Handler, config: Optional[Config] = None,
                 capabilities: Optional[Callable[[], dict[str, Any]]] = None,
                 worker_id: Optional[str] = None, recheck_capabilities_every: Optional[float] = None):
        self.kind = kind
        # How often capabilities are read again to announce a change at once (None: at each heartbeat).
        self.recheck_capabilities_every = recheck_capabilities_every
        self.handler = handler
        self.config = config or Config()
        self.capabilities = capabilities or dict
        self.worker_id = worker_id or f"{kind}-{socket.gethostname()}-{os.getpid()}"
        self.api = InternalApi(self.config.API_URL, self.config.WORKER_TOKEN)
        self.runner = JobRunner(self.api, handler)
        self.queue = queue_name(self.config.AMQP_PREFIX, kind)
        self._connection: Optional[pika.BlockingConnection] = None
        self._channel: Optional[BlockingChannel] = None
        self._consumer_tag: Optional[str] = None
        self._consumer_cancelled = False
        self._lock = threading.Lock()
        self._busy = threading.Event()
        self._stopping = threading.Event()

    # --- lifecycle -------------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection and channel, declare the topology, start consuming unless busy."""
        params = pika.URLParameters(self.config.AMQP_URL)
        params.heartbeat = self.config.AMQP_HEARTBEAT_SECONDS
        params.blocked_connection_timeout = 60
        params.connection_attempts = 1
        connection = pika.BlockingConnection(params)
        channel = connection.channel()
        # The broker cancels a consumer whose queue was deleted (or, on a cluster, whose queue's node
        # left); the channel stays open but delivers nothing more: reconnect, which declares it again.
        channel.add_on_cancel_callback(lambda frame: self._consumer_cancelled_by_broker())
        channel.basic_qos(prefetch_count=1)
        declare_topology(channel, self.config.AMQP_PREFIX, [self.kind])
        with self._lock:
            self._connection, self._channel, self._consumer_tag = connection, channel, None
            self._consumer_cancelled = False
        if not self._busy.is_set():
            self._start_consuming()
        LOGGER.info("%s connected; consuming %s", self.worker_id, self.queue)

    def run(self) -> None:
        """Consume until stopped, reconnecting with capped backoff when the connection drops."""
        self._install_signal_handlers()
        tell_supervisor(self.worker_id)
        threading.Thread(target=self._registry_loop, name="registry", daemon=True).start()
        delay = FIRST_RECONNECT_DELAY
        while not self._stopping.is_set():
            try:
                self.connect()
                delay = FIRST_RECONNECT_DELAY
                while not (self._stopping.is_set() and not self._busy.is_set()):
                    self._connection.process_data_events(time_limit=0.5)
                    self._check_channel()
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.StreamLostError,
                    pika.exceptions.ConnectionClosedByBroker, ChannelLost) as exc:
                LOGGER.warning("%s: broker connection lost (%s); reconnecting in %.1fs [%s]",
                               self.worker_id, exc.__class__.__name__, delay, exc)
                self.close()  # a connection left open with a dead channel would never deliver again
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_RECONNECT_DELAY)
        while self._busy.is_set():
            time.sleep(0.1)
        self.close()
        LOGGER.info("%s stopped", self.worker_id)

    def _check_channel(self) -> None:
        """Raise ChannelLost when the channel is closed (a channel error, a consumer timeout) or the
        broker cancelled the consumer, although the connection is still open."""
        channel = self._channel
        if channel is None or channel.is_closed:
            raise ChannelLost("the broker closed the channel")
        if self._consumer_cancelled:
            raise ChannelLost("the broker cancelled the consumer")

    def _consumer_cancelled_by_broker(self) -> None:
        self._consumer_cancelled = True
        self._consumer_tag = None

    def stop(self) -> None:
        """Finish the current job (if any), then leave."""
        self._stopping.set()

    def close(self) -> None:
        with self._lock:
            connection, self._connection, self._channel = self._connection, None, None
        close_quietly(connection)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum, frame):
            if self._stopping.is_set():
                LOGGER.warning("%s: second signal, leaving now; the supervisor (or the lease) hands the job back",
                               self.worker_id)
                os._exit(1)
            LOGGER.info("%s: stopping after the current job", self.worker_id)
            self.stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def _registry_loop(self) -> None:
        registry_loop(self.api, self.worker_id, self.kind, self.capabilities, self._stopping,
                      self.recheck_capabilities_every or REGISTRY_EVERY_SECONDS)

    # --- connection-thread callbacks ---------------------------------------------------------------

    def _start_consuming(self) -> None:
        if self._channel is not None and self._channel.is_open and self._consumer_tag is None \
                and not self._stopping.is_set():
            self._consumer_tag = self._channel.basic_consume(self.queue, self.on_message)

    def _threadsafe(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` on the connection thread; False when the connection is gone."""
        with self._lock:
            connection = self._connection
        if connection is None or not connection.is_open:
            LOGGER.warning("%s: connection gone; the broker redelivers unacked messages", self.worker_id)
            return False
        try:
            connection.add_callback_threadsafe(callback)
        except pika.exceptions.ConnectionWrongStateError:
            return False
        return True

    def on_message(self, channel: BlockingChannel, method, properties, body: bytes) -> None:
        """Decode a delivery; poison is dead-lettered at once, a job goes to a work thread."""
        try:
            message = decode_message(body, self.kind)
        except PoisonMessage as exc:
            LOGGER.error("%s: dead-lettering a poison message: %s", self.worker_id, exc)
            channel.basic_reject(method.delivery_tag, requeue=False)
            if exc.job_id:
                threading.Thread(target=self._fail_poisoned, args=(exc.job_id, str(exc)), daemon=True).start()
            return
        self._busy.set()
        threading.Thread(target=self._run_job, args=(channel, method.delivery_tag, message),
                         name=f"job-{message['job_id']}", daemon=True).start()

    def _fail_poisoned(self, job_id: str, reason: str) -> None:
        """Fail the job a poison message named, so it does not wait forever in ``queued``."""
        try:
            claim = self.api.claim(job_id, self.worker_id)
            if claim["claimed"]:
                self.api.fail(job_id, str(claim["claim_id"]), f"unusable job message: {reason}", transient=False)
        except (ApiError, ApiUnavailable) as exc:
            LOGGER.warning("job %s: could not fail the poisoned job (%s)", job_id, exc)

    def ack(self, channel: BlockingChannel, delivery_tag: int, pause: bool = False) -> None:
        """Ack a delivery (from the connection thread); ``pause`` stops consuming first."""
        if not channel.is_open:
            return
        if pause and self._consumer_tag is not None:
            channel.basic_cancel(self._consumer_tag)
            self._consumer_tag = None
        channel.basic_ack(delivery_tag)

    def _requeue(self, channel: BlockingChannel, delivery_tag: int) -> None:
        if channel.is_open:
            channel.basic_nack(delivery_tag, requeue=True)

    def _resume(self) -> None:
        self._busy.clear()
        self._start_consuming()

    # --- work thread -----------------------------------------------------------------------------------

    def _run_job(self, channel: BlockingChannel, delivery_tag: int, message: dict[str, Any]) -> None:
        job_id = message["job_id"]
        set_job_context(job_id)
        try:
            try:
                claim = self.api.claim(job_id, self.worker_id)
            except ApiError as exc:
                LOGGER.warning("job %s: claim refused (%s); dropping the message", job_id, exc)
                self._threadsafe(lambda: self.ack(channel, delivery_tag))
                return
            except ApiUnavailable as exc:
                LOGGER.warning("job %s: API unavailable (%s); message requeued", job_id, exc)
                self._threadsafe(lambda: self._requeue(channel, delivery_tag))
                return
            if not claim["claimed"]:
                LOGGER.info("job %s: nothing to do (%s)", job_id, claim["reason"])
                self._threadsafe(lambda: self.ack(channel, delivery_tag))
                return
            self._threadsafe(lambda: self.ack(channel, delivery_tag, pause=True))
            self.execute(claim["job"], str(claim["claim_id"]))
        finally:
            if not self._threadsafe(self._resume):
                self._busy.clear()

    def execute(self, job: dict[str, Any], claim_id: str) -> None:
        """Run the handler on a claimed job and report how it ended (see JobRunner.execute)."""
        self.runner.execute(job, claim_id)
