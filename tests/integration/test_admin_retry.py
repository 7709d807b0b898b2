"""An administrator queues a failed job again (POST /api/v1/admin/jobs/<id>/retry): a new job of the
same owner with the same parameters and a copy of the input, run by a real worker."""
from __future__ import annotations

import io
import threading

import pytest

from shared.handler import PermanentError
from tests.conftest import wait_for


class FailsFirstTime:
    """A translate worker's domain function whose engine is down for the first job of each text."""

    def __init__(self):
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, job, io_):
        key = job["params"].get("text") or job["input"]["filename"]
        with self.lock:
            first = key not in self.seen
            self.seen.add(key)
        if first:
            raise PermanentError("the engine was down")
        return {"translated_text": f"[es] {key}"}


@pytest.fixture
def flaky_worker(start_worker, translate_pairs_registered):
    return start_worker(handler=FailsFirstTime(), kind="translate")


def settled(client, user, job_id):
    return wait_for(lambda: (job := client.get(f"/api/v1/jobs/{job_id}", headers=user.headers).json)["status"]
                    in ("succeeded", "failed") and job, timeout=30, message=f"job {job_id} to settle")


def test_a_failed_job_retried_by_an_administrator_runs_again_for_its_owner(
        client, make_user, admin, relay, flaky_worker):
    user = make_user()
    submitted = client.post("/api/v1/jobs/translate", headers=user.headers, json={
        "text": "The cat is black.", "source_lang": "en", "target_lang": "es", "priority": "high"}).json
    failed = settled(client, user, submitted["id"])
    assert failed["status"] == "failed" and "the engine was down" in failed["error"]

    reply = client.post(f"/api/v1/admin/jobs/{failed['id']}/retry", headers=admin.headers)

    assert reply.status_code == 202, reply.json
    again = reply.json
    assert again["id"] != failed["id"] and again["user_id"] == user.id
    assert (again["kind"], again["priority"], again["status"]) == ("translate", "high", "queued")
    assert settled(client, user, again["id"])["status"] == "succeeded"
    result = client.get(f"/api/v1/jobs/{again['id']}/result", headers=user.headers).json
    assert result["result"]["translated_text"] == "[es] The cat is black."
    assert settled(client, user, failed["id"])["status"] == "failed"  # the original keeps its record


def test_the_retried_job_gets_its_own_copy_of_the_input(client, make_user, admin, relay, flaky_worker):
    user = make_user()
    content = b"The house is near the river.\n"
    submitted = client.post("/api/v1/jobs/translate", headers=user.headers, content_type="multipart/form-data",
                            data={"source_lang": "en", "target_lang": "es",
                                  "file": (io.BytesIO(content), "river.txt")}).json
    assert settled(client, user, submitted["id"])["status"] == "failed"

    again = client.post(f"/api/v1/admin/jobs/{submitted['id']}/retry", headers=admin.headers).json
    client.delete(f"/api/v1/jobs/{submitted['id']}", headers=user.headers)  # the copy outlives the original

    assert settled(client, user, again["id"])["status"] == "succeeded"
    download = client.get(f"/api/v1/jobs/{again['id']}/input", headers=user.headers)
    assert download.status_code == 200 and download.data == content


def test_only_an_administrator_retries_and_only_a_failed_job(client, make_user, admin, relay, flaky_worker):
    user = make_user()
    job_id = client.post("/api/v1/jobs/translate", headers=user.headers, json={
        "text": "A dog.", "source_lang": "en", "target_lang": "es"}).json["id"]
    assert settled(client, user, job_id)["status"] == "failed"

    assert client.post(f"/api/v1/admin/jobs/{job_id}/retry", headers=user.headers).status_code == 403
    retried = client.post(f"/api/v1/admin/jobs/{job_id}/retry", headers=admin.headers).json
    assert settled(client, user, retried["id"])["status"] == "succeeded"
    refused = client.post(f"/api/v1/admin/jobs/{retried['id']}/retry", headers=admin.headers)
    assert refused.status_code == 409
    assert refused.json["message"] == "Cannot retry: only a failed job can be retried; this one is succeeded."
    missing = client.post("/api/v1/admin/jobs/00000000-0000-0000-0000-000000000000/retry", headers=admin.headers)
    assert missing.status_code == 404
