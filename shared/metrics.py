"""Prometheus metrics: counters and histograms updated where jobs change state.

The job metrics are recorded by a listener of shared.jobflow's transitions, subscribed when this
module is imported (why at import: see shared.jobflow).

Under gunicorn (several processes) set PROMETHEUS_MULTIPROC_DIR to a directory shared by the API's
processes and the relay (``make up`` does); ``/metrics`` then adds them up. Gauges that describe the
present (jobs per state, queue depth, worker heartbeats) are read at scrape time instead, by
services/api/metrics.py.
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared.clock import utcnow
from shared.jobflow import subscribe
from shared.models import Job
from shared.states import JobStatus, is_terminal

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)

JOBS_SUBMITTED = Counter("conveyor_jobs_submitted_total", "Jobs accepted at submit.", ["kind"])
JOBS_FINISHED = Counter("conveyor_jobs_finished_total", "Jobs that reached a terminal state.", ["kind", "status"])
JOB_DURATION = Histogram("conveyor_job_duration_seconds", "Time from a job's first start to its end.",
                         ["kind"], buckets=DURATION_BUCKETS)
QUEUE_WAIT = Histogram("conveyor_job_queue_wait_seconds", "Time from submit to the first claim by a worker.",
                       ["kind"], buckets=DURATION_BUCKETS)
WEBHOOK_DELIVERIES = Counter("conveyor_webhook_deliveries_total", "Webhook delivery attempts by outcome.",
                             ["outcome"])


@subscribe
def record_transition(job: Job, old: JobStatus, new: JobStatus) -> None:
    """Count finished jobs and time their run; time the wait before a job's first start."""
    if is_terminal(new):
        JOBS_FINISHED.labels(job.kind, job.status).inc()
        if job.started_at is not None:
            JOB_DURATION.labels(job.kind).observe((job.finished_at - job.started_at).total_seconds())
    elif new is JobStatus.RUNNING and job.started_at is None:
        # jobflow.claim sets started_at just after this transition: None means the first start.
        QUEUE_WAIT.labels(job.kind).observe((utcnow() - job.created_at).total_seconds())
