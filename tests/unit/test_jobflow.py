"""shared.jobflow on in-memory jobs: progress only moves forward, a running job can be cancelled."""
from __future__ import annotations

import uuid

import pytest

from shared import jobflow
from shared.models import Job
from shared.states import JobStatus


def running_job() -> Job:
    return Job(id=uuid.uuid4(), kind="translate", status=JobStatus.RUNNING.value, attempts=1,
               progress_current=0.0, claim_id=uuid.uuid4())


@pytest.fixture(autouse=True)
def _no_listeners(monkeypatch):
    """Only the job's own fields are under test; test_job_listeners covers the subscribed reactions."""
    monkeypatch.setattr(jobflow, "TRANSITION_LISTENERS", [])
    monkeypatch.setattr(jobflow, "PROGRESS_LISTENERS", [])


def test_progress_never_goes_backwards():
    """R13 as a unit: a late report (40 after 50) and a replay (50 again) leave progress at 50."""
    job = running_job()
    jobflow.record_progress(job, 50, 100, "characters")
    jobflow.record_progress(job, 40, 100, "characters")
    assert (job.progress_current, job.progress_percent) == (50.0, 50.0)
    jobflow.record_progress(job, 50, 100, "characters")
    jobflow.record_progress(job, 0, None, None)
    assert (job.progress_current, job.progress_total, job.progress_unit) == (50.0, 100.0, "characters")


def test_a_replayed_report_is_not_announced_again():
    heard = []
    jobflow.subscribe_progress(lambda job, before: heard.append((before, job.progress_current)))
    job = running_job()
    for current in (10, 10, 5, 20):
        jobflow.record_progress(job, current, 100, "steps")
    assert heard == [(0.0, 10.0), (10.0, 20.0)]


def test_progress_past_the_total_stops_at_the_total():
    job = running_job()
    jobflow.record_progress(job, 150, 100, "seconds")
    assert (job.progress_current, job.progress_percent) == (100.0, 100.0)


def test_cancelling_a_running_job_drops_its_claim(monkeypatch):
    monkeypatch.setattr(jobflow, "chunk_count", lambda job: 0)
    job = running_job()
    jobflow.cancel(job)
    assert job.status == "cancelled" and job.claim_id is None
    assert job.cancelled_at is not None and job.finished_at is not None and job.lease_expires_at is None
