"""The outbox relay's logic with a stand-in publisher (the real broker is covered in test_pipeline)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.relay.outbox import OutboxRelay
from shared import jobflow
from shared.db import db as handle
from shared.messaging import PublishError
from shared.models import Job, OutboxMessage, User
from tests.conftest import _retire_earlier_tests_work


class RecordingPublisher:
    """Confirms every message, or refuses them all while ``down``."""

    def __init__(self):
        self.sent: list[tuple[str, dict, int, bool]] = []
        self.down = False

    def publish(self, kind, payload, priority=5, dead_letter=False):
        if self.down:
            raise PublishError("broker unavailable: test")
        self.sent.append((kind, payload, priority, dead_letter))

    def process_events(self):
        pass

    def close(self):
        pass


@pytest.fixture
def relay(app, database, _own_queue_prefix):
    from shared.db import database_app
    # Start from an empty outbox: the rows earlier tests left pending are not this relay's to count.
    _retire_earlier_tests_work(app, _own_queue_prefix)
    relay = OutboxRelay(database_app(database), RecordingPublisher())
    with relay.app.app_context():
        yield relay


@pytest.fixture
def owner(relay):
    user = User(username=f"r{uuid.uuid4().hex[:10]}", email=f"{uuid.uuid4().hex[:10]}@example.com",
                password_hash="x", role="user", is_active=True, may_submit=True)
    handle.session.add(user)
    handle.session.commit()
    return user


def new_job(owner, priority="normal") -> Job:
    job = jobflow.create_job(owner.id, "translate", {"text": "x"}, priority)
    handle.session.commit()
    return job


def sent_for(relay, job) -> list[dict]:
    """Payloads the relay published for ``job`` (other tests may leave rows of their own)."""
    return [payload for _, payload, _, _ in relay.publisher.sent if payload["job_id"] == str(job.id)]


def pending_rows(job) -> list[OutboxMessage]:
    handle.session.expire_all()
    return handle.session.scalars(select(OutboxMessage).where(OutboxMessage.job_id == job.id,
                                                              OutboxMessage.sent_at.is_(None))).all()


def test_a_confirmed_row_is_marked_sent(relay, owner):
    job = new_job(owner)
    assert relay.relay_batch() == 1
    kind, payload, priority, dead = relay.publisher.sent[-1]
    assert (kind, payload["job_id"], payload["attempt"], priority, dead) == ("translate", str(job.id), 1, 5, False)
    assert pending_rows(job) == []


def test_high_priority_rows_go_first(relay, owner):
    normal, high = new_job(owner), new_job(owner, priority="high")
    relay.relay_batch()
    assert [payload["job_id"] for _, payload, _, _ in relay.publisher.sent] == [str(high.id), str(normal.id)]
    assert relay.publisher.sent[0][2] == 9


def test_an_unconfirmed_row_stays_pending_with_backoff(relay, owner):
    """R3: the broker refuses; nothing is lost, the row is retried later."""
    job = new_job(owner)
    relay.publisher.down = True
    assert relay.relay_batch() == 0
    [row] = pending_rows(job)
    assert row.attempts == 1 and "unavailable" in row.last_error
    assert row.available_at > jobflow.utcnow()
    relay.publisher.down = False
    assert relay.relay_batch() == 0, "not due yet"
    row.available_at = jobflow.utcnow() - timedelta(seconds=1)
    handle.session.commit()
    assert relay.relay_batch() >= 1 and pending_rows(job) == []


def test_a_lost_worker_lease_hands_the_job_back(relay, owner, database):
    job = new_job(owner)
    relay.relay_batch()
    jobflow.claim(job, "w1", lease_seconds=30, max_attempts=3)
    job.lease_expires_at = jobflow.utcnow() - timedelta(seconds=1)
    handle.session.commit()
    assert relay.reap() >= 1
    handle.session.expire_all()
    assert handle.session.get(Job, job.id).status == "retrying"
    relay.relay_batch()
    assert [payload["attempt"] for payload in sent_for(relay, job)] == [1, 2]


def test_the_last_lost_lease_fails_the_job_and_dead_letters_it(relay, owner):
    """R7: bounded attempts, then failed and dead-lettered; no hot loop."""
    job = new_job(owner)
    relay.relay_batch()
    for _ in range(3):
        handle.session.expire_all()
        job = handle.session.get(Job, job.id)
        assert jobflow.claim(job, "w", lease_seconds=30, max_attempts=3).claimed
        job.lease_expires_at = jobflow.utcnow() - timedelta(seconds=1)
        handle.session.commit()
        relay.reap()
        relay.relay_batch()
    handle.session.expire_all()
    job = handle.session.get(Job, job.id)
    assert job.status == "failed" and "gave up after 3 attempts" in job.error
    last = sent_for(relay, job)[-1]
    assert last["dead_letter"] and "gave up" in last["error"]
    assert [dead for _, payload, _, dead in relay.publisher.sent if payload["job_id"] == str(job.id)][-1]


def test_a_delayed_retry_is_not_published_early(relay, owner):
    job = new_job(owner)
    relay.relay_batch()
    jobflow.claim(job, "w1", lease_seconds=30, max_attempts=3)
    jobflow.fail(job, "busy", transient=True, max_attempts=3, backoff_seconds=60)
    handle.session.commit()
    assert relay.relay_batch() == 0
    assert len(pending_rows(job)) == 1
