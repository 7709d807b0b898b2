"""Queue position and ETA from jobs written to the database at known states and times.

The estimate's clock (``services.api.queue_info.utcnow``) is moved by the tests instead of
sleeping; the jobs are polled through GET /api/v1/jobs/{id}/progress.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.api import queue_info
from shared.clock import utcnow
from shared.db import db as handle
from shared.models import Job, WorkerRecord
from tests.clock import HandClock

KIND = "asr"  # sized by params["duration"], the audio seconds known at submit


@pytest.fixture
def clock(monkeypatch):
    frozen = HandClock()
    monkeypatch.setattr(queue_info, "utcnow", frozen)
    return frozen


@pytest.fixture
def board(app):
    """An empty queue of KIND (no jobs, no workers, no measured factor), left empty afterwards."""
    def clear():
        with app.app_context():
            handle.session.query(Job).filter_by(kind=KIND).delete()
            handle.session.query(WorkerRecord).filter_by(kind=KIND).delete()
            handle.session.commit()
        queue_info.forget_factors()

    clear()
    yield
    clear()


def add_job(app, user, clock, status="queued", *, duration=10.0, started_ago=None,
            took=None, reported_ago=None, progress=None) -> str:
    """A job of KIND as the pipeline would leave it; times are relative to the clock."""
    now = clock.now
    row = Job(user_id=user.id, kind=KIND, status=status, priority="normal",
              params={"duration": duration}, progress_current=0.0)
    if started_ago is not None:
        row.started_at = now - timedelta(seconds=started_ago)
    if took is not None:  # a finished job that ran this long
        row.started_at = now - timedelta(seconds=60 + took)
        row.finished_at = now - timedelta(seconds=60)
    if progress is not None:
        row.progress_current, row.progress_total = progress
    row.updated_at = now - timedelta(seconds=reported_ago or 0.0)
    with app.app_context():
        handle.session.add(row)
        handle.session.commit()
        return str(row.id)


def add_workers(app, count: int) -> None:
    with app.app_context():
        for number in range(count):
            handle.session.add(WorkerRecord(id=f"eta-test-{number}", kind=KIND, capabilities={},
                                            last_seen_at=utcnow()))
        handle.session.commit()


def history(app, user, clock, factor: float, jobs: int = 3, duration: float = 10.0) -> None:
    """Finished jobs that ran ``factor`` seconds per second of audio."""
    for _ in range(jobs):
        add_job(app, user, clock, "succeeded", duration=duration, took=factor * duration)


def poll(client, user, job_id) -> dict:
    reply = client.get(f"/api/v1/jobs/{job_id}/progress", headers=user.headers)
    assert reply.status_code == 200, reply.json
    return reply.json


def test_a_running_job_half_done_after_10_s_has_about_10_s_left(client, app, make_user, board,
                                                                 clock):
    user = make_user()
    job = add_job(app, user, clock, "running", started_ago=10, progress=(5.0, 10.0))

    progress = poll(client, user, job)

    assert progress["eta_seconds"] == pytest.approx(10.0, abs=0.1)
    assert progress["message"] == "running, ~10 s left"


def test_a_running_job_counts_down_between_progress_reports(client, app, make_user, board, clock):
    user = make_user()
    job = add_job(app, user, clock, "running", started_ago=10, progress=(5.0, 10.0))

    first = poll(client, user, job)["eta_seconds"]
    clock.advance(3)  # no new report: the job has kept working at its measured rate
    second = poll(client, user, job)["eta_seconds"]

    assert second == pytest.approx(first - 3, abs=0.1)


def test_the_first_poll_of_a_running_job_has_an_eta_from_its_expected_length(
        client, app, make_user, board, clock):
    user = make_user()
    history(app, user, clock, factor=0.5)
    job = add_job(app, user, clock, "running", duration=30.0, started_ago=5)

    progress = poll(client, user, job)

    # 30 s of audio at 0.5 s a second: 15 s in all, 5 s of them spent.
    assert progress["eta_seconds"] == pytest.approx(10.0, abs=0.1)


def test_a_queued_job_waits_for_the_running_one_then_runs_its_own_length(
        client, app, make_user, board, clock):
    user = make_user()
    history(app, user, clock, factor=0.5)
    add_workers(app, 1)
    add_job(app, user, clock, "running", duration=20.0, started_ago=4)  # 10 s expected, 6 s left
    job = add_job(app, user, clock, duration=24.0)  # 12 s of its own

    first = poll(client, user, job)
    clock.advance(2)
    second = poll(client, user, job)

    assert first["queue_position"] == 1
    assert first["eta_seconds"] == pytest.approx(6 + 12, abs=0.1)
    assert first["message"] == "1st in line, ~18 s"
    assert second["eta_seconds"] == pytest.approx(first["eta_seconds"] - 2, abs=0.1)


def test_the_jobs_ahead_count_by_their_size(client, app, make_user, board, clock):
    user = make_user()
    history(app, user, clock, factor=0.5)
    add_workers(app, 1)
    add_job(app, user, clock, duration=100.0)  # 50 s
    add_job(app, user, clock, duration=2.0)    # 1 s
    job = add_job(app, user, clock, duration=10.0)

    progress = poll(client, user, job)

    assert progress["queue_position"] == 3
    assert progress["eta_seconds"] == pytest.approx(50 + 1 + 5, abs=0.1)
    assert progress["message"] == "3rd in line, ~56 s"


@pytest.mark.parametrize("workers", [1, 2])
def test_two_workers_halve_the_wait(client, app, make_user, board, clock, workers):
    user = make_user()
    history(app, user, clock, factor=0.5)
    add_workers(app, workers)
    for _ in range(4):
        add_job(app, user, clock, duration=20.0)  # 10 s each
    job = add_job(app, user, clock, duration=20.0)

    eta = poll(client, user, job)["eta_seconds"]

    # 40 s of work ahead shared by the workers, then its own 10 s.
    assert eta == pytest.approx(40 / workers + 10, abs=0.1)


def test_no_history_gives_a_place_in_line_and_no_estimate(client, app, make_user, board, clock):
    user = make_user()
    add_workers(app, 1)
    running = add_job(app, user, clock, "running", started_ago=3)
    queued = add_job(app, user, clock)

    waiting, started = poll(client, user, queued), poll(client, user, running)

    assert (waiting["queue_position"], waiting["eta_seconds"], waiting["message"]) == \
        (1, None, "1st in line")
    assert (started["eta_seconds"], started["message"]) == (None, None)


def test_no_live_worker_still_estimates_as_if_one_will_come(client, app, make_user, board, clock):
    user = make_user()
    history(app, user, clock, factor=1.0)
    job = add_job(app, user, clock, duration=8.0)

    assert poll(client, user, job)["eta_seconds"] == pytest.approx(8.0, abs=0.1)


def test_an_overdue_running_job_is_expected_any_moment(client, app, make_user, board, clock):
    user = make_user()
    history(app, user, clock, factor=0.5)
    job = add_job(app, user, clock, "running", duration=10.0, started_ago=30)  # 5 s expected

    progress = poll(client, user, job)

    assert (progress["eta_seconds"], progress["message"]) == (0.0, "running, almost done")


@pytest.mark.parametrize("kind, params, size", [
    ("asr", {"duration": 42.5}, 42.5), ("convert", {"duration": 0.0}, 1.0),
    ("translate", {"word_count": 300}, 300.0), ("vision", {}, 1.0), ("asr", {}, 1.0),
    ("asr", {"duration": "garbage"}, 1.0),
])
def test_a_jobs_size_comes_from_its_kinds_measure(kind, params, size):
    assert queue_info.job_size(kind, params) == size


def test_a_size_that_is_not_a_number_counts_as_one_unit_in_the_database_too(
        client, app, make_user, board, clock):
    user = make_user()
    history(app, user, clock, factor=1.0)
    add_job(app, user, clock, duration="unknown")
    job = add_job(app, user, clock, duration=5.0)

    assert poll(client, user, job)["eta_seconds"] == pytest.approx(1 + 5, abs=0.1)
