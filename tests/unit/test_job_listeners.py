"""Job transitions announce themselves: jobflow calls listeners, webhooks and metrics subscribe.

shared.webhooks and shared.metrics subscribe at import (see shared.jobflow for why). The first tests
load each process that changes jobs the way it starts, in a fresh interpreter, so an import moved away
fails here instead of silently losing webhooks or metrics in that process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from shared import jobflow
from shared.clock import utcnow
from shared.models import Job
from shared.states import JobStatus

REPO_ROOT = Path(__file__).resolve().parents[2]

REACTIONS = {"shared.metrics.record_transition", "shared.webhooks.announce_transition",
             "shared.webhooks.announce_progress"}

# How each process that changes jobs starts (the API as gunicorn builds it; python -m services.relay).
PROCESSES = {
    "api": "from shared.config import Config; from shared.keys import ensure_signing_keys; "
           "ensure_signing_keys(Config()); from services.api import create_app; create_app()",
    "relay": "import services.relay.__main__",
}
REPORT = ("import json; from shared import jobflow; print(json.dumps(sorted("
          "f'{f.__module__}.{f.__qualname__}' for f in jobflow.TRANSITION_LISTENERS + jobflow.PROGRESS_LISTENERS)))")


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_every_process_that_changes_jobs_subscribes_webhooks_and_metrics(process, tmp_path):
    env = dict(os.environ, CONVEYOR_ENV="testing", CONVEYOR_DATA_DIR=str(tmp_path))
    for name in ("CONVEYOR_JWT_PRIVATE_KEY_FILE", "CONVEYOR_JWT_PUBLIC_KEY_FILE"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", f"{PROCESSES[process]}\n{REPORT}"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    subscribed = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert REACTIONS <= subscribed, f"the {process} process lacks {sorted(REACTIONS - subscribed)}"


def _job(**fields) -> Job:
    values = dict(id=uuid.uuid4(), kind="translate", status=JobStatus.QUEUED.value, attempts=0,
                  progress_current=0.0, created_at=utcnow() - timedelta(seconds=1))
    values.update(fields)
    return Job(**values)


def test_listeners_hear_each_transition_with_the_old_and_the_new_state(monkeypatch):
    monkeypatch.setattr(jobflow, "TRANSITION_LISTENERS", [])
    heard = []
    jobflow.subscribe(lambda job, old, new: heard.append((old, new, job.started_at is None)))
    job = _job()
    assert jobflow.claim(job, "w1", lease_seconds=30, max_attempts=3).claimed
    jobflow.succeed(job, {"ok": True})
    # The listener runs inside the transition, before claim records the first start.
    assert heard == [(JobStatus.QUEUED, JobStatus.RUNNING, True), (JobStatus.RUNNING, JobStatus.SUCCEEDED, False)]


def test_progress_listeners_hear_the_percent_before_a_forward_move(monkeypatch):
    monkeypatch.setattr(jobflow, "PROGRESS_LISTENERS", [])
    heard = []
    jobflow.subscribe_progress(lambda job, before: heard.append((before, job.progress_percent)))
    job = _job(status=JobStatus.RUNNING.value)
    jobflow.record_progress(job, 3, 10, "steps")
    jobflow.record_progress(job, 2, 10, "steps")  # stale: progress never moves back, nobody hears it
    jobflow.record_progress(job, 5, 10, "steps")
    assert heard == [(0.0, 30.0), (30.0, 50.0)]


def test_subscribing_the_same_listener_again_keeps_one(monkeypatch):
    monkeypatch.setattr(jobflow, "TRANSITION_LISTENERS", [])
    calls = []

    def make():
        def listener(job, old, new):
            calls.append(new)
        return listener

    first, again = make(), make()  # the same function defined twice, as a module imported twice does
    jobflow.subscribe(first)
    jobflow.subscribe(first)
    jobflow.subscribe(again)
    assert jobflow.TRANSITION_LISTENERS == [again]
    jobflow.claim(_job(), "w1", lease_seconds=30, max_attempts=3)
    assert calls == [JobStatus.RUNNING]


def test_a_second_subscription_of_the_metrics_does_not_count_a_job_twice():
    from shared import metrics, webhooks

    jobflow.subscribe(metrics.record_transition)
    jobflow.subscribe(webhooks.announce_transition)
    labels = {"kind": "translate", "status": "succeeded"}
    before = REGISTRY.get_sample_value("conveyor_jobs_finished_total", labels) or 0.0
    job = _job()  # no callback URL: the webhook listener adds no row, so no database is needed
    jobflow.claim(job, "w1", lease_seconds=30, max_attempts=3)
    jobflow.succeed(job, {})
    assert REGISTRY.get_sample_value("conveyor_jobs_finished_total", labels) == before + 1
