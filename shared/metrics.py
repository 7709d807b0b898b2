"""Prometheus metrics: counters and histograms updated where jobs change state.

Under gunicorn (several processes) set PROMETHEUS_MULTIPROC_DIR to a directory shared by the API's
processes and the relay (``make up`` does); ``/metrics`` then adds them up. Gauges that describe the
present (jobs per state, queue depth, worker heartbeats) are read at scrape time instead, by
services/api/metrics.py.
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)

JOBS_SUBMITTED = Counter("conveyor_jobs_submitted_total", "Jobs accepted at submit.", ["kind"])
JOBS_FINISHED = Counter("conveyor_jobs_finished_total", "Jobs that reached a terminal state.", ["kind", "status"])
JOB_DURATION = Histogram("conveyor_job_duration_seconds", "Time from a job's first start to its end.",
                         ["kind"], buckets=DURATION_BUCKETS)
QUEUE_WAIT = Histogram("conveyor_job_queue_wait_seconds", "Time from submit to the first claim by a worker.",
                       ["kind"], buckets=DURATION_BUCKETS)
WEBHOOK_DELIVERIES = Counter("conveyor_webhook_deliveries_total", "Webhook delivery attempts by outcome.",
                             ["outcome"])
