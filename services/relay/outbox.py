"""The outbox relay: publishes committed outbox rows with publisher confirms, and reaps lost jobs.

The same process runs the webhook dispatcher (services.relay.webhooks) in a thread.

Run it as ``python -m services.relay``. A row is marked sent only after the
broker confirmed it, so a crash in between publishes it again (consumers are
idempotent). PostgreSQL NOTIFY wakes the relay at once; it also polls, for
delayed retries and missed notifications. Several relays may run: rows are
taken with ``FOR UPDATE SKIP LOCKED``.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pika
import psycopg
from flask import Flask
from sqlalchemy import select, update

from shared import jobflow, pipelineflow  # noqa: F401 - subscribes: a reaped step fails its pipeline
from shared.clock import utcnow
from shared.db import db, transaction
from shared.messaging import Publisher, PublishError
from shared.models import OutboxMessage
from shared.pg_notify import libpq_url

LOGGER = logging.getLogger(__name__)

BATCH = 100
POLL_SECONDS = 1.0
REAP_EVERY_SECONDS = 2.0
# A row the broker could not take waits before its next try, doubling from FIRST_PUBLISH_BACKOFF.
# The cap is low because a try against a broker that is down costs one refused connection, while
# every second of cap is a second of delay after the broker returns; and once any publish succeeds
# again, the rows held back by the outage are due at once (``_outage_rows``).
FIRST_PUBLISH_BACKOFF = 0.25
MAX_PUBLISH_BACKOFF = 2.0


class OutboxRelay:
    """Moves outbox rows to RabbitMQ and hands back jobs whose worker lease expired."""

    def __init__(self, app: Flask, publisher: Publisher):
        self.app = app
        self.publisher = publisher
        self.config = app.config
        # Rows this relay held back because the broker was unreachable (not those it refused):
        # they are made due as soon as the broker confirms anything again.
        self._outage_rows: set[int] = set()

    def relay_batch(self) -> int:
        """Publish the rows that are due; return how many were confirmed."""
        sent = 0
        interrupted: BaseException | None = None
        with transaction():
            rows = db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.sent_at.is_(None),
                                            OutboxMessage.available_at <= utcnow())
                .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
                .limit(BATCH).with_for_update(skip_locked=True)).all()
            for row in rows:
                try:
                    self.publisher.publish(row.kind, row.payload, priority=row.priority,
                                           dead_letter=bool(row.payload.get("dead_letter")))
                except PublishError as exc:
                    row.attempts += 1
                    row.last_error = str(exc)[:500]
                    delay = min(MAX_PUBLISH_BACKOFF, FIRST_PUBLISH_BACKOFF * 2 ** min(row.attempts - 1, 8))
                    row.available_at = utcnow() + timedelta(seconds=delay)
                    if not isinstance(exc.__cause__, (pika.exceptions.UnroutableError, pika.exceptions.NackError)):
                        self._outage_rows.add(row.id)
                    LOGGER.warning("job %s: publish failed (%s); retry in %.1fs", row.job_id, exc, delay)
                    break
                except BaseException as exc:  # noqa: BLE001 - re-raised below, once the batch is committed
                    # Rows the broker already confirmed stay marked sent, so they are not published twice.
                    interrupted = exc
                    break
                self._mark_sent(row)
                sent += 1
            if sent and self._outage_rows:
                self._outage_over()
        if interrupted is not None:
            raise interrupted
        return sent

    def _mark_sent(self, row: OutboxMessage) -> None:
        row.sent_at = utcnow()
        LOGGER.info("job %s: published to %s (attempt %s)", row.job_id, row.kind, row.payload.get("attempt"))

    def _outage_over(self) -> None:
        """The broker confirms again: the rows held back by its outage need not wait their backoff."""
        waiting, self._outage_rows = self._outage_rows, set()
        db.session.execute(update(OutboxMessage).where(
            OutboxMessage.id.in_(waiting), OutboxMessage.sent_at.is_(None)).values(available_at=utcnow()))
        LOGGER.info("broker is back: %d held-back outbox row(s) are due now", len(waiting))

    def reap(self) -> int:
        """Hand back or fail running jobs whose worker stopped renewing its lease."""
        with transaction():
            return jobflow.reap_expired_leases(self.config["LEASE_SECONDS"], self.config["MAX_ATTEMPTS"],
                                               self.config["RETRY_BACKOFF_SECONDS"])

    def _listen(self) -> psycopg.Connection:
        connection = psycopg.connect(libpq_url(self.config["SQLALCHEMY_DATABASE_URI"]), autocommit=True)
        connection.execute(f"LISTEN {jobflow.OUTBOX_CHANNEL}")
        return connection

    def run(self, stop: threading.Event) -> None:
        """Relay until ``stop`` is set, surviving database and broker outages."""
        listener = None
        last_reap = 0.0
        while not stop.is_set():
            try:
                with self.app.app_context():
                    if listener is None:
                        listener = self._listen()
                    while self.relay_batch() == BATCH:
                        pass
                    if time.monotonic() - last_reap > REAP_EVERY_SECONDS:
                        self.reap()
                        last_reap = time.monotonic()
                self.publisher.process_events()
                # Wakes on NOTIFY from a submit's commit, or after POLL_SECONDS for delayed rows.
                for _ in listener.notifies(timeout=POLL_SECONDS, stop_after=1):
                    pass
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any database or broker outage
                LOGGER.error("relay loop error: %s; retrying in 2s", exc)
                if listener is not None:
                    listener.close()
                    listener = None
                stop.wait(2.0)
        self.publisher.close()
        if listener is not None:
            listener.close()
