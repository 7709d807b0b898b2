"""What the one-round-trip submit and the per-process principal cache must keep: an exact active-job
limit and one job per Idempotency-Key under concurrent submits, each job with its outbox row, and a
revoked login refused once another process revoked it while this one had it cached."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared import principal_cache
from shared.db import db as handle
from shared.models import Job, OutboxMessage
from tests.conftest import wait_for

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")
ROOT = Path(__file__).resolve().parents[2]
BODY = {"text": "The cat is black.", "source_lang": "en", "target_lang": "es"}


def submit_at_once(app, count: int, headers: dict[str, str]) -> list:
    """``count`` submits from as many threads, released together; their replies."""
    start = threading.Barrier(count)
    replies: list = [None] * count

    def submit(index: int) -> None:
        client = app.test_client()
        start.wait()
        replies[index] = client.post("/api/v1/jobs/translate", headers=headers, json=BODY)

    threads = [threading.Thread(target=submit, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


def test_the_active_job_limit_holds_under_concurrent_submits(app, make_user, config):
    user = make_user()
    replies = submit_at_once(app, 3 * config.MAX_ACTIVE_JOBS, user.headers)
    codes = sorted(reply.status_code for reply in replies)
    assert codes == [202] * config.MAX_ACTIVE_JOBS + [429] * (2 * config.MAX_ACTIVE_JOBS), codes
    with app.app_context():
        jobs = handle.session.scalars(select(Job.id).where(Job.user_id == user.id)).all()
        messages = handle.session.scalars(select(OutboxMessage.job_id).where(OutboxMessage.job_id.in_(jobs))).all()
    assert len(jobs) == config.MAX_ACTIVE_JOBS and sorted(messages) == sorted(jobs), "each job has its outbox row"


def test_concurrent_submits_with_one_idempotency_key_make_one_job(app, make_user):
    user = make_user()
    replies = submit_at_once(app, 6, {**user.headers, "Idempotency-Key": "twins"})
    assert {reply.status_code for reply in replies} == {202}
    assert len({reply.json["id"] for reply in replies}) == 1
    assert sum(reply.headers.get("Idempotent-Replayed") == "true" for reply in replies) == 5
    with app.app_context():
        assert handle.session.scalar(select(func.count()).select_from(Job).where(Job.user_id == user.id)) == 1


def test_a_logout_in_another_process_ends_a_cached_login(app, client, make_user, config, monkeypatch):
    """The auth service logs out in its own process; this process had the login cached and hears it
    by NOTIFY. The cache's age limit is lifted here, so only the notification can end the login."""
    monkeypatch.setattr(principal_cache, "MAX_AGE_SECONDS", 3600.0)
    user = make_user()
    cache = principal_cache.cache_for(config.SQLALCHEMY_DATABASE_URI)
    assert cache._listener.wait_connected(10)
    assert client.get("/api/v1/jobs", headers=user.headers).status_code == 200  # a query, then cached
    with app.app_context():
        from flask_jwt_extended import decode_token
        claims = decode_token(user.token)
    session_id = uuid.UUID(claims["sid"])
    assert cache.get(session_id, user.id) is not None
    assert client.get("/api/v1/jobs", headers=user.headers).status_code == 200  # from the cache

    logout = ("from services.auth import create_app\n"
              f"reply = create_app().test_client().post('/auth/v1/logout', headers={user.headers!r})\n"
              "assert reply.status_code == 204, reply.status_code\n")
    subprocess.run([sys.executable, "-c", logout], cwd=ROOT, env=dict(os.environ), check=True, timeout=120)

    wait_for(lambda: cache.get(session_id, user.id) is None, timeout=10, message="the NOTIFY of the logout")
    reply = client.get("/api/v1/jobs", headers=user.headers)
    assert reply.status_code == 401 and reply.json["message"] == "Token has been revoked."


@pytest.mark.timeout(120)
def test_a_job_stream_wakes_on_the_commit_of_the_change_not_on_a_poll(app, client, make_user, config, monkeypatch):
    """Polls and keep-alives are pushed out of reach (an hour): only the NOTIFY of each change of the
    job can wake the stream, so without it this test would hang until its timeout."""
    from services.api import events
    from shared import jobflow
    from shared.db import transaction
    from shared.pg_notify import listener_for
    monkeypatch.setattr(events, "POLL_SECONDS", 3600.0)
    monkeypatch.setattr(events, "KEEPALIVE_SECONDS", 3600.0)
    assert listener_for(config.SQLALCHEMY_DATABASE_URI).wait_connected(10)
    user = make_user()
    job_id = uuid.UUID(client.post("/api/v1/jobs/translate", headers=user.headers, json=BODY).json["id"])
    reply = client.get(f"/api/v1/jobs/{job_id}/events", headers=user.headers, buffered=False)
    parts = iter(reply.response)
    received = []
    while not any('"queued"' in part for part in received):
        received.append(next(parts).decode())

    def worker() -> None:  # what the internal API does for a worker, from another thread and connection
        with app.app_context():
            with transaction():
                jobflow.claim(jobflow.lock_job(job_id), "test-worker", 60, 3)
            with transaction():
                jobflow.succeed(jobflow.lock_job(job_id), {"translated_text": "El gato es negro."})

    threading.Thread(target=worker).start()
    received.extend(part.decode() for part in parts)  # ends with the stream's end event
    body = "".join(received)
    assert '"succeeded"' in body and body.rstrip().endswith('data: {"status": "succeeded"}')
    reply.close()
