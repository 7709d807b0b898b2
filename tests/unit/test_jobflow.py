"""shared.jobflow on in-memory jobs: progress only moves forward, a running job can be cancelled."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Callable

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
    # With no listeners the first transition of the process logs an error once: as if already said,
    # so a test's log lines do not depend on whether an earlier test made the first transition.
    monkeypatch.setattr(jobflow, "_unheard_reported", True)


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


class RecordingSession:
    """Stands in for ``db.session`` where jobflow only adds rows (outbox, logs): keeps what was added."""

    def __init__(self):
        self.added = []
        self.found: list = []  # what the next query answers (the reaper's expired or held jobs)

    def add(self, row):
        self.added.append(row)

    def flush(self):
        pass

    def scalars(self, query):
        return type("Rows", (), {"all": lambda rows: list(self.found)})()


@pytest.fixture
def session(monkeypatch):
    recording = RecordingSession()
    monkeypatch.setattr(jobflow, "db", type("Db", (), {"session": recording})())
    monkeypatch.setattr(jobflow, "chunk_count", chunks_of({}))
    return recording


def chunks_of(counts: dict) -> "Callable[[Job], int]":
    """A chunk count per job (0 for any other): the job asked about must be the job itself."""
    def count(job):
        assert isinstance(job, Job)
        return counts.get(job.id, 0)
    return count


@pytest.fixture
def clock(monkeypatch):
    from tests.clock import HandClock
    frozen = HandClock()
    monkeypatch.setattr(jobflow, "utcnow", frozen)
    return frozen


def queued_job(**fields) -> Job:
    values = dict(id=uuid.uuid4(), kind="asr", status=JobStatus.QUEUED.value, attempts=0,
                  progress_current=0.0, priority="normal")
    values.update(fields)
    return Job(**values)


def outbox(session) -> list:
    from shared.models import OutboxMessage
    return [row for row in session.added if isinstance(row, OutboxMessage)]


def test_an_outbox_row_names_the_next_attempt_the_priority_and_when_it_is_due(session, clock):
    job = queued_job(priority="high", attempts=2)
    row = jobflow.enqueue(job, delay_seconds=1.5)
    assert outbox(session) == [row]
    assert (row.job_id, row.kind, row.priority) == (job.id, "asr", 9)
    assert row.payload == {"job_id": str(job.id), "kind": "asr", "attempt": 3, "schema_version": 1}
    assert row.available_at == clock.now + timedelta(seconds=1.5)
    assert jobflow.enqueue(queued_job(priority="low")).priority == 1
    assert jobflow.enqueue(queued_job(priority="bogus")).priority == 5
    assert jobflow.enqueue(queued_job()).available_at == clock.now


def test_a_dead_letter_row_carries_the_error(session):
    job = queued_job(error="it broke")
    row = jobflow.enqueue(job, dead_letter=True)
    assert row.payload["dead_letter"] is True and row.payload["error"] == "it broke"
    assert "dead_letter" not in jobflow.enqueue(job).payload


def test_a_claim_starts_a_lease_and_counts_an_attempt(session, clock):
    job = queued_job(error="from before")
    result = jobflow.claim(job, "w1", lease_seconds=30, max_attempts=3)
    assert result.claimed and result.reason == "" and result.claim_id == job.claim_id is not None
    assert (job.status, job.attempts, job.worker_id, job.error) == ("running", 1, "w1", None)
    assert job.lease_expires_at == clock.now + timedelta(seconds=30) and job.started_at == clock.now


def test_a_takeover_after_the_lease_ran_out_keeps_the_first_start(session, clock):
    job = queued_job()
    first = jobflow.claim(job, "w1", lease_seconds=30, max_attempts=3)
    started = job.started_at
    clock.advance(29)
    refused = jobflow.claim(job, "w2", lease_seconds=30, max_attempts=3)
    assert (refused.claimed, refused.reason, refused.claim_id) == (False, "job is running on another worker", None)
    clock.advance(1)  # the lease ends exactly now: it is no longer live
    second = jobflow.claim(job, "w2", lease_seconds=30, max_attempts=3)
    assert second.claimed and second.claim_id != first.claim_id
    assert (job.worker_id, job.attempts, job.started_at) == ("w2", 2, started)


def test_a_finished_job_or_one_out_of_attempts_is_not_claimed(session):
    done = queued_job(status=JobStatus.SUCCEEDED.value)
    result = jobflow.claim(done, "w1", lease_seconds=30, max_attempts=3)
    assert (result.claimed, result.reason) == (False, "job is already succeeded")
    spent = queued_job(status=JobStatus.RETRYING.value, attempts=3)
    result = jobflow.claim(spent, "w1", lease_seconds=30, max_attempts=3)
    assert (result.claimed, result.reason) == (False, "job has used all its attempts")
    assert spent.status == "failed"
    assert spent.error == "gave up after 3 attempts: the worker was lost each time"
    assert [row.payload.get("dead_letter") for row in outbox(session)] == [True]
    last = queued_job(status=JobStatus.RETRYING.value, attempts=2)
    assert jobflow.claim(last, "w1", lease_seconds=30, max_attempts=3).claimed


def test_only_the_current_claim_may_call_back(session):
    job = queued_job()
    claim_id = jobflow.claim(job, "w1", lease_seconds=30, max_attempts=3).claim_id
    jobflow.check_claim(job, str(claim_id))
    jobflow.check_claim(job, claim_id)
    for stale in (None, str(uuid.uuid4())):
        with pytest.raises(jobflow.Conflict, match="^this claim is no longer the job's current claim$"):
            jobflow.check_claim(job, stale)
    job.claim_id = None
    with pytest.raises(jobflow.Conflict, match="current claim"):
        jobflow.check_claim(job, str(claim_id))
    with pytest.raises(jobflow.Conflict, match="current claim"):
        jobflow.check_claim(job, None)  # no claim on either side is still no claim
    jobflow.succeed(job, {})
    with pytest.raises(jobflow.Conflict, match="^job is already succeeded$"):
        jobflow.check_claim(job, str(claim_id))


def test_a_renewed_lease_runs_from_now(clock):
    job = running_job()
    jobflow.extend_lease(job, 12)
    assert job.lease_expires_at == clock.now + timedelta(seconds=12)


def test_success_keeps_the_result_and_fills_the_progress(session, clock):
    job = running_job()
    job.error = "an earlier attempt's"
    jobflow.record_progress(job, 30, 120, "seconds")
    jobflow.succeed(job, {"text": "hola"})
    assert (job.status, job.result, job.error, job.progress_current) == ("succeeded", {"text": "hola"}, None, 120.0)
    assert job.finished_at == clock.now and job.lease_expires_at is None
    untotalled = running_job()
    jobflow.succeed(untotalled, {})
    assert untotalled.progress_current == 0.0


def test_a_transient_failure_is_retried_with_a_doubling_backoff(session, clock, caplog):
    job = running_job()
    job.attempts = 4
    with caplog.at_level("INFO", logger="shared.jobflow"):
        jobflow.fail(job, "broker hiccup", transient=True, max_attempts=5, backoff_seconds=0.5)
    assert (job.status, job.error, job.claim_id, job.lease_expires_at) == ("retrying", "broker hiccup", None, None)
    [row] = outbox(session)
    assert row.available_at == clock.now + timedelta(seconds=4.0)  # 0.5 * 2 ** (4 - 1)
    assert row.payload["attempt"] == 5 and "dead_letter" not in row.payload
    assert caplog.messages == [f"job {job.id}: attempt 4 failed (broker hiccup); retrying"]
    first = running_job()
    jobflow.fail(first, "x", transient=True, max_attempts=5, backoff_seconds=0.5)
    assert outbox(session)[-1].available_at == clock.now + timedelta(seconds=0.5)


def test_the_last_transient_failure_fails_for_good_and_says_so(session, caplog):
    job = running_job()
    job.attempts = 3
    with caplog.at_level("INFO", logger="shared.jobflow"):
        jobflow.fail(job, "broker hiccup", transient=True, max_attempts=3, backoff_seconds=0.5)
    assert caplog.messages == [f"job {job.id} failed: gave up after 3 attempts: broker hiccup"]
    assert (job.status, job.error) == ("failed", "gave up after 3 attempts: broker hiccup")
    assert [row.payload["dead_letter"] for row in outbox(session)] == [True]
    assert outbox(session)[0].payload["error"] == "gave up after 3 attempts: broker hiccup"


def test_a_permanent_failure_is_not_retried_and_keeps_its_message(session):
    job = running_job()
    jobflow.fail(job, "bad input", transient=False, max_attempts=3, backoff_seconds=0.5)
    assert (job.status, job.error) == ("failed", "bad input")


def test_a_failure_after_kept_chunks_is_partial(session, monkeypatch):
    job = running_job()
    monkeypatch.setattr(jobflow, "chunk_count", chunks_of({job.id: 2}))
    jobflow.fail_for_good(job, "ran out of memory")
    assert (job.status, job.error) == ("partial", "ran out of memory")


def test_settled_listeners_hear_a_job_once_it_ended_with_its_outcome(session, monkeypatch):
    monkeypatch.setattr(jobflow, "SETTLED_LISTENERS", [])
    heard = []
    jobflow.subscribe_settled(lambda job: heard.append((job.status, job.result, job.error)))
    jobflow.succeed(running_job(), {"n": 1})
    jobflow.fail(running_job(), "no", transient=False, max_attempts=3, backoff_seconds=1)
    jobflow.cancel(queued_job())
    retried = running_job()
    jobflow.fail(retried, "again", transient=True, max_attempts=3, backoff_seconds=1)  # not settled yet
    assert heard == [("succeeded", {"n": 1}, None), ("failed", None, "no"), ("cancelled", None, None)]


def test_a_finished_job_cannot_be_cancelled(session):
    job = running_job()
    jobflow.succeed(job, {})
    with pytest.raises(jobflow.Conflict, match="^job is already succeeded$"):
        jobflow.cancel(job)


def test_a_cancelled_job_with_chunks_is_partial(session, monkeypatch, clock):
    job = running_job()
    monkeypatch.setattr(jobflow, "chunk_count", chunks_of({job.id: 1}))
    jobflow.cancel(job)
    assert (job.status, job.cancelled_at, job.claim_id) == ("partial", clock.now, None)


def test_a_log_line_is_cut_to_its_limit(session):
    job = running_job()
    jobflow.add_log(job, "x" * 2500)
    jobflow.add_log(job, "short")
    assert [(row.job_id, len(row.message)) for row in session.added] == [(job.id, 2000), (job.id, 5)]


def test_progress_keeps_a_known_total_and_unit_when_a_report_lacks_them():
    job = running_job()
    jobflow.record_progress(job, 10, 100, "x" * 40)
    assert job.progress_unit == "x" * 32
    jobflow.record_progress(job, 20, 0, "")
    assert (job.progress_current, job.progress_total, job.progress_unit) == (20.0, 100.0, "x" * 32)
    fresh = running_job()
    jobflow.record_progress(fresh, 7, None, None)
    assert (fresh.progress_current, fresh.progress_total) == (7.0, None)
    tiny = running_job()
    jobflow.record_progress(tiny, 0.5, 1, "pages")  # a total of one, a first step under one
    assert (tiny.progress_current, tiny.progress_total, tiny.progress_percent) == (0.5, 1.0, 50.0)


def test_a_transition_nobody_hears_is_logged_once(caplog, monkeypatch, session):
    monkeypatch.setattr(jobflow, "_unheard_reported", False)
    first = running_job()
    with caplog.at_level("ERROR", logger="shared.jobflow"):
        jobflow.succeed(first, {})
        jobflow.succeed(running_job(), {})
    assert caplog.messages == [
        f"job {first.id}: running -> succeeded and nothing listens to job transitions in this process"]


def test_a_new_job_is_queued_with_its_outbox_row(session):
    job_id = uuid.uuid4()
    job = jobflow.create_job(7, "translate", {"text": "hi"}, "high", job_id=job_id, pipeline_step="one")
    assert session.added[0] is job
    assert (job.id, job.user_id, job.kind, job.params, job.priority, job.status) == (
        job_id, 7, "translate", {"text": "hi"}, "high", "queued")
    assert (job.progress_current, job.attempts, job.artifacts, job.pipeline_step) == (0.0, 0, [], "one")
    [row] = outbox(session)
    assert (row.job_id, row.priority, row.payload["attempt"]) == (job_id, 9, 1)
    other = jobflow.create_job(7, "asr", {})
    assert other.id not in (None, job_id) and other.priority == "normal"


def test_the_reaper_hands_back_each_expired_job_as_a_lost_attempt(session, clock, caplog):
    retried, spent = running_job(), running_job()
    retried.worker_id = spent.worker_id = "w9"
    spent.attempts = 3
    session.found = [retried, spent]
    with caplog.at_level("WARNING", logger="shared.jobflow"):
        assert jobflow.reap_expired_leases(lease_seconds=30, max_attempts=3, backoff_seconds=5) == 2
    assert (retried.status, retried.error) == ("retrying", "worker w9 stopped responding")
    assert outbox(session)[0].available_at == clock.now  # a lost worker is retried at once
    assert (spent.status, spent.error) == ("failed", "gave up after 3 attempts: worker w9 stopped responding")
    assert caplog.messages == [f"job {retried.id}: worker w9 lost its lease (attempt 1)",
                               f"job {spent.id}: worker w9 lost its lease (attempt 3)"]
    session.found = []
    assert jobflow.reap_expired_leases(lease_seconds=30, max_attempts=3, backoff_seconds=5) == 0


def test_a_dead_workers_jobs_are_handed_back_with_the_reason(session, caplog):
    job = running_job()
    session.found = [job]
    with caplog.at_level("WARNING", logger="shared.jobflow"):
        assert jobflow.release_dead_worker("w3", "exit code -9", max_attempts=3) == 1
    assert (job.status, job.error) == ("retrying", "worker w3 died (exit code -9)")
    assert caplog.messages == [f"job {job.id}: worker w3 died (exit code -9) (attempt 1)"]
