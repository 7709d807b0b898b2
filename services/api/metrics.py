"""``GET /metrics`` for Prometheus: the counters of shared.metrics plus gauges read at scrape time.

The gauges (jobs per kind and state, queue depth per kind, pending outbox rows, worker heartbeats)
are what queue-depth autoscaling (e.g. KEDA) and alerts need.
"""
from __future__ import annotations

import hmac
import logging
import time

import pika
from flask import Blueprint, Response, current_app, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from services.api.operations import queue_depths
from shared.db import db
from shared.errors import error_response
from shared.models import Job, OutboxMessage, WorkerRecord
from shared.worker.registry import running_since

LOGGER = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)


class StateCollector:
    """Gauges computed from PostgreSQL and RabbitMQ when Prometheus scrapes."""

    def __init__(self, config):
        self.config = config

    def collect(self):
        jobs = GaugeMetricFamily("conveyor_jobs", "Jobs by kind and state.", labels=["kind", "status"])
        for kind, status, count in db.session.execute(
                select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)):
            jobs.add_metric([kind, status], count)
        yield jobs
        outbox = GaugeMetricFamily("conveyor_outbox_pending", "Outbox rows not yet confirmed by the broker.")
        outbox.add_metric([], db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))) or 0)
        yield outbox
        seen = GaugeMetricFamily("conveyor_worker_last_seen_timestamp_seconds",
                                 "When each running worker last reported (Unix time).", labels=["worker", "kind"])
        # Only running workers (the rule of the submit checks): every pid that ever ran would pile up.
        for record in db.session.scalars(select(WorkerRecord).where(WorkerRecord.last_seen_at >= running_since())):
            seen.add_metric([record.id, record.kind], record.last_seen_at.timestamp())
        yield seen
        db.session.rollback()
        yield from self._queues()

    def _queues(self):
        depth = GaugeMetricFamily("conveyor_queue_depth", "Messages waiting in each kind's queue.", labels=["kind"])
        dead = GaugeMetricFamily("conveyor_dead_letter_depth", "Messages in each kind's dead-letter queue.",
                                 labels=["kind"])
        up = GaugeMetricFamily("conveyor_broker_up", "1 when the broker answered this scrape.")
        try:
            for kind, depths in queue_depths(self.config["AMQP_URL"], self.config["AMQP_PREFIX"]).items():
                for family, count in ((depth, depths["waiting"]), (dead, depths["dead_letters"])):
                    if count is not None:
                        family.add_metric([kind], count)
            up.add_metric([], 1)
        except pika.exceptions.AMQPError as exc:
            LOGGER.warning("metrics: broker unavailable (%s)", exc.__class__.__name__)
            up.add_metric([], 0)
        yield from (depth, dead, up)


@bp.route("/metrics")
def metrics():
    """Prometheus text exposition (set CONVEYOR_METRICS_TOKEN to require a bearer token; production must)."""
    token = current_app.config.get("METRICS_TOKEN")
    # Production cannot start without a token (Config.check_production); should it get here without
    # one all the same, nothing is shown rather than everything.
    if token or current_app.config.get("ENV") == "production":
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token or not hmac.compare_digest(presented.encode(), token.encode()):
            return error_response(401, "Metrics need the metrics token.")
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(current_app.config))
    # Under gunicorn each process counts apart; prometheus-client's directory sums them.
    multiprocess_dir = current_app.config.get("PROMETHEUS_MULTIPROC_DIR")
    if multiprocess_dir:
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters, path=multiprocess_dir)
    else:
        counters = REGISTRY
    started = time.monotonic()
    body = generate_latest(counters) + generate_latest(state)
    LOGGER.debug("metrics scrape took %.3fs", time.monotonic() - started)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
