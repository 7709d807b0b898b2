"""users.active_jobs, kept by a trigger (migration 0009), is what the active-job limit reads: it must
follow every status a job can have and every way a job row changes, as shared.states.ACTIVE says."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text

from shared.db import db as handle
from shared.models import Job, User
from shared.states import ACTIVE, JobStatus, values


def counter_and_recount(user_id: int) -> tuple[int, int]:
    """(users.active_jobs, the user's active jobs counted from the rows)."""
    return handle.session.execute(text(
        "SELECT active_jobs, (SELECT count(*) FROM jobs WHERE user_id = :u AND status = ANY (:active)) "
        "FROM users WHERE id = :u"), {"u": user_id, "active": sorted(values(ACTIVE))}).one()


def add_job(user_id: int, status: JobStatus) -> Job:
    job = Job(id=uuid.uuid4(), user_id=user_id, kind="translate", params={}, priority="normal",
              status=status.value, progress_current=0.0, attempts=0, artifacts=[])
    handle.session.add(job)
    handle.session.commit()
    return job


@pytest.mark.parametrize("status", list(JobStatus), ids=lambda status: status.value)
def test_a_job_in_each_status_counts_exactly_when_the_states_module_calls_it_active(app, make_user, status):
    user = make_user()
    with app.app_context():
        add_job(user.id, status)
        assert counter_and_recount(user.id) == ((1, 1) if status in ACTIVE else (0, 0))
        handle.session.remove()


def test_the_counter_follows_transitions_deletes_and_a_change_of_owner(app, make_user):
    owner, other = make_user(), make_user()
    with app.app_context():
        first, second = add_job(owner.id, JobStatus.QUEUED), add_job(owner.id, JobStatus.QUEUED)
        assert counter_and_recount(owner.id) == (2, 2)
        first.status = JobStatus.RUNNING.value  # active to active: no change
        handle.session.commit()
        assert counter_and_recount(owner.id) == (2, 2)
        first.status = JobStatus.SUCCEEDED.value
        handle.session.commit()
        assert counter_and_recount(owner.id) == (1, 1)
        first.status = JobStatus.QUEUED.value  # a retried job is active again
        handle.session.commit()
        assert counter_and_recount(owner.id) == (2, 2)
        second.user_id = other.id
        handle.session.commit()
        assert counter_and_recount(owner.id) == (1, 1) and counter_and_recount(other.id) == (1, 1)
        handle.session.delete(first)
        handle.session.commit()
        assert counter_and_recount(owner.id) == (0, 0)
        # A deleted account takes its jobs by cascade; the trigger then finds no user row to update.
        handle.session.delete(handle.session.get(User, other.id))
        handle.session.commit()
        assert handle.session.scalar(select(Job.id).where(Job.id == second.id)) is None
        handle.session.remove()


def test_the_limit_holds_after_jobs_end(client, make_user, app, config, translate_pairs_registered, monkeypatch):
    """The submit function reads the counter: a job that ended frees its slot, one still queued does not."""
    monkeypatch.setitem(app.config, "MAX_ACTIVE_JOBS", 2)
    user = make_user()

    def submit():
        return client.post("/api/v1/jobs/translate", headers=user.headers,
                           json={"text": "house", "source_lang": "en", "target_lang": "es"})

    first, second = submit(), submit()
    assert (first.status_code, second.status_code) == (202, 202)
    refused = submit()
    assert refused.status_code == 429 and "2 active jobs" in refused.json["message"]
    cancelled = client.post(f"/api/v1/jobs/{first.json['id']}/cancel", headers=user.headers)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled", cancelled.json
    assert submit().status_code == 202
    assert client.get("/api/v1/usage", headers=user.headers).json["jobs"]["active"] == 2
    with app.app_context():
        assert counter_and_recount(user.id) == (2, 2)
        handle.session.remove()
