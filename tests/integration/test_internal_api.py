"""The internal worker API called directly: idempotent claims, monotonic progress, upserted chunks (R9, R13, S11)."""
from __future__ import annotations

import uuid

import pytest

from shared.db import db as handle
from shared.models import JobChunk
from tests.integration.test_jobs_api import translate

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


@pytest.fixture
def worker(client, config):
    """Call the internal API as a worker."""
    def call(method: str, path: str, **kwargs):
        headers = {"X-Worker-Token": config.WORKER_TOKEN, **kwargs.pop("headers", {})}
        return client.open(f"/internal/v1{path}", method=method, headers=headers, **kwargs)
    return call


@pytest.fixture
def claimed(client, make_user, worker):
    user = make_user()
    job = translate(client, user).json
    claim = worker("POST", f"/jobs/{job['id']}/claim", json={"worker_id": "w1"}).json
    assert claim["claimed"] is True
    return user, job, claim


def events(worker, job, claim, *items):
    return worker("POST", f"/jobs/{job['id']}/events", json={"claim_id": claim["claim_id"], "events": list(items)})


def test_a_claim_hands_out_the_job_and_a_second_claim_is_a_no_op(worker, claimed):
    _, job, claim = claimed
    assert claim["job"]["params"]["text"] == "The cat is black." and claim["job"]["attempt"] == 1
    again = worker("POST", f"/jobs/{job['id']}/claim", json={"worker_id": "w2"})
    assert again.status_code == 200 and again.json["claimed"] is False and "running" in again.json["reason"]


def test_progress_never_goes_backwards(client, worker, claimed):
    """R13: a late or replayed report does not move progress back."""
    user, job, claim = claimed
    assert events(worker, job, claim, {"type": "progress", "current": 50, "total": 100, "unit": "characters"}
                  ).json == {"cancelled": False}
    events(worker, job, claim, {"type": "progress", "current": 40, "total": 100, "unit": "characters"})
    progress = client.get(f"/api/v1/jobs/{job['id']}/progress", headers=user.headers).json
    assert progress["current"] == 50 and progress["percent"] == 50.0


def test_a_replayed_chunk_is_stored_once(client, worker, claimed, app):
    """R13: chunks are upserted on (job, seq)."""
    user, job, claim = claimed
    events(worker, job, claim, {"type": "chunk", "seq": 1, "data": {"text": "first try"}})
    events(worker, job, claim, {"type": "chunk", "seq": 1, "data": {"text": "replayed"}},
           {"type": "chunk", "seq": 0, "data": {"text": "zero"}})
    chunks = client.get(f"/api/v1/jobs/{job['id']}/chunks", headers=user.headers).json
    assert [(c["seq"], c["data"]["text"]) for c in chunks] == [(0, "zero"), (1, "replayed")]
    with app.app_context():
        assert handle.session.query(JobChunk).filter_by(job_id=uuid.UUID(job["id"])).count() == 2


def test_log_events_are_visible_to_the_owner(client, worker, claimed):
    user, job, claim = claimed
    events(worker, job, claim, {"type": "log", "message": "loaded the model"})
    assert [line["message"] for line in client.get(f"/api/v1/jobs/{job['id']}/logs", headers=user.headers).json
            ] == ["loaded the model"]


def test_the_events_reply_tells_the_worker_about_a_cancel(client, worker, claimed):
    user, job, claim = claimed
    client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user.headers)
    assert events(worker, job, claim, {"type": "heartbeat"}).json == {"cancelled": True}


def test_callbacks_for_a_missing_job_are_404_and_for_a_finished_one_409(worker, claimed):
    """S11."""
    _, job, claim = claimed
    assert worker("POST", f"/jobs/{uuid.uuid4()}/events",
                  json={"claim_id": claim["claim_id"], "events": []}).status_code == 404
    assert worker("POST", f"/jobs/{uuid.uuid4()}/claim", json={"worker_id": "w"}).status_code == 404
    done = worker("POST", f"/jobs/{job['id']}/succeed", json={"claim_id": claim["claim_id"], "result": {"x": 1}})
    assert done.status_code == 200 and done.json["status"] == "succeeded"
    again = worker("POST", f"/jobs/{job['id']}/succeed", json={"claim_id": claim["claim_id"], "result": {"x": 1}})
    assert again.status_code == 200, "repeating the same success is harmless"
    late = events(worker, job, claim, {"type": "progress", "current": 1, "total": 2})
    assert late.status_code == 409
    assert worker("POST", f"/jobs/{job['id']}/fail", json={"claim_id": claim["claim_id"], "error": "x"}
                  ).status_code == 409


def test_the_last_progress_sent_with_the_result_is_recorded_with_it(client, worker, claimed):
    """A worker's throttle holds the last report back; it comes with the result, in one transaction."""
    user, job, claim = claimed
    events(worker, job, claim, {"type": "progress", "current": 4, "total": 17, "unit": "characters"})
    last = {"type": "progress", "current": 17, "total": 17, "unit": "characters"}
    done = worker("POST", f"/jobs/{job['id']}/succeed",
                  json={"claim_id": claim["claim_id"], "result": {"x": 1}, "progress": last})
    assert done.status_code == 200 and done.json["status"] == "succeeded"
    progress = client.get(f"/api/v1/jobs/{job['id']}/progress", headers=user.headers).json
    assert (progress["current"], progress["total"], progress["unit"]) == (17, 17, "characters")
    assert progress["percent"] == 100.0
    bad = worker("POST", f"/jobs/{job['id']}/succeed",
                 json={"claim_id": claim["claim_id"], "result": {}, "progress": {"type": "shout"}})
    assert bad.status_code == 422


def test_a_superseded_claim_cannot_write(worker, claimed):
    _, job, _ = claimed
    stranger = {"claim_id": str(uuid.uuid4())}
    assert events(worker, job, stranger, {"type": "progress", "current": 1, "total": 2}).status_code == 409
    assert worker("POST", f"/jobs/{job['id']}/succeed", json={**stranger, "result": {}}).status_code == 409


def test_transient_failures_retry_then_fail_for_good(client, worker, claimed, config):
    user, job, claim = claimed
    assert worker("POST", f"/jobs/{job['id']}/fail", json={"claim_id": claim["claim_id"], "error": "busy",
                                                           "transient": True}).json["status"] == "retrying"
    for attempt in (2, 3):
        claim = worker("POST", f"/jobs/{job['id']}/claim", json={"worker_id": "w"}).json
        assert claim["claimed"] and claim["job"]["attempt"] == attempt
        status = worker("POST", f"/jobs/{job['id']}/fail",
                        json={"claim_id": claim["claim_id"], "error": "busy", "transient": True}).json["status"]
    assert status == "failed"
    final = client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).json
    assert final["error"] == "gave up after 3 attempts: busy" and final["attempts"] == 3


def test_a_permanent_failure_fails_at_once(worker, claimed):
    _, job, claim = claimed
    reply = worker("POST", f"/jobs/{job['id']}/fail", json={"claim_id": claim["claim_id"], "error": "bad input"})
    assert reply.json["status"] == "failed"


@pytest.mark.parametrize("name", ["..", "%2E%2E", ".hidden", "..%5Cescape", "out.txt%0A", "a%00b"])
def test_an_artifact_name_that_could_leave_the_job_folder_is_refused(worker, claimed, name):
    """Each of these forms reaches the handler (``..%2F`` would not: the router answers 404 first)."""
    _, job, claim = claimed
    reply = worker("PUT", f"/jobs/{job['id']}/artifacts/{name}", data=b"x", headers={"X-Claim-Id": claim["claim_id"]})
    assert reply.status_code == 400, reply.json
    assert reply.json["message"] == "Artifact names are 1-128 characters: letters, digits, '.', '_', '-'."


def test_artifacts_upload_and_download_for_the_owner_only(client, worker, claimed, two_users):
    user, job, claim = claimed
    put = worker("PUT", f"/jobs/{job['id']}/artifacts/out.txt", data=b"hello",
                 headers={"X-Claim-Id": claim["claim_id"], "Content-Type": "text/plain"})
    assert put.status_code == 201
    got = client.get(f"/api/v1/jobs/{job['id']}/artifacts/out.txt", headers=user.headers)
    assert got.data == b"hello" and got.mimetype == "text/plain"
    listed = client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).json["artifacts"]
    assert listed == [{"name": "out.txt", "content_type": "text/plain", "size": 5,
                       "url": f"/api/v1/jobs/{job['id']}/artifacts/out.txt"}]
    stranger = two_users[1]
    refused = client.get(f"/api/v1/jobs/{job['id']}/artifacts/out.txt", headers=stranger.headers)
    assert refused.status_code == 404 and b"hello" not in refused.data
