"""Pipelines through the API and the internal worker API, driven by hand (no worker runs the steps).

Each step is a real job: the tests claim and finish it as a worker would, and watch the pipeline
start the next steps (once, even when the success is reported twice), fail, cancel and retry.
The same flows with real workers and media are in test_pipelines_workers.py.
"""
from __future__ import annotations

import io
import threading

import pytest
import requests
from sqlalchemy import func, select, update

from shared import pipelineflow
from shared.clock import utcnow
from shared.db import db as handle
from shared.models import Job, OutboxMessage, WorkerRecord

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")

TWO_STEPS = [
    {"name": "to-es", "kind": "translate", "options": {"text": "The cat is black.", "source_lang": "en",
                                                        "target_lang": "es"}},
    {"name": "back", "kind": "translate", "input": "to-es", "options": {"source_lang": "es", "target_lang": "en"}},
]


@pytest.fixture
def worker(client, config):
    """Call the internal API as a worker."""
    def call(method: str, path: str, **kwargs):
        headers = {"X-Worker-Token": config.WORKER_TOKEN, **kwargs.pop("headers", {})}
        return client.open(f"/internal/v1{path}", method=method, headers=headers, **kwargs)
    return call


def submit(client, user, **body):
    reply = client.post("/api/v1/pipelines", headers=user.headers, json=body)
    assert reply.status_code == 202, reply.json
    return reply.json


def show(client, user, pipeline_id):
    reply = client.get(f"/api/v1/pipelines/{pipeline_id}", headers=user.headers)
    assert reply.status_code == 200, reply.json
    return reply.json


def steps_by_name(view):
    return {step["name"]: step for step in view["steps"]}


def claim(worker, job_id):
    reply = worker("POST", f"/jobs/{job_id}/claim", json={"worker_id": "hand"}).json
    assert reply["claimed"] is True, reply
    return reply


def step_jobs(app, pipeline_id):
    with app.app_context():
        rows = handle.session.scalars(select(Job).where(Job.pipeline_id == pipeline_id)).all()
        found = [(job.pipeline_step, job.pipeline_run, job.status) for job in rows]
        handle.session.remove()
    return sorted(found)


def test_the_first_step_is_queued_with_its_outbox_row_and_the_second_waits(client, make_user, app):
    user = make_user()
    view = submit(client, user, steps=TWO_STEPS)
    assert view["status"] == "running" and view["progress"]["percent"] == 0.0
    steps = steps_by_name(view)
    assert steps["to-es"]["status"] == "queued" and steps["back"]["status"] == "pending"
    assert steps["back"]["job_id"] is None
    with app.app_context():
        job = handle.session.get(Job, steps["to-es"]["job_id"])
        assert job.user_id == user.id and job.params["text"] == "The cat is black."
        assert handle.session.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.job_id == job.id)) == 1
        handle.session.remove()
    listed = client.get("/api/v1/jobs", headers=user.headers).json["items"]
    assert [(j["pipeline_id"], j["pipeline_step"]) for j in listed] == [(view["id"], "to-es")]


def test_a_success_starts_the_next_step_with_the_output_and_a_repeated_success_starts_nothing(
        client, make_user, worker, app):
    user = make_user()
    view = submit(client, user, steps=TWO_STEPS)
    first = steps_by_name(view)["to-es"]["job_id"]
    claimed = claim(worker, first)
    done = {"claim_id": claimed["claim_id"], "result": {"translated_text": "El gato es negro."}}
    assert worker("POST", f"/jobs/{first}/succeed", json=done).json["status"] == "succeeded"
    assert worker("POST", f"/jobs/{first}/succeed", json=done).json["status"] == "succeeded"
    # The listener itself, heard a second time (a replayed completion event), starts nothing either.
    with app.app_context():
        pipelineflow.advance(handle.session.get(Job, first))
        handle.session.commit()
        handle.session.remove()
    assert step_jobs(app, view["id"]) == [("back", 1, "queued"), ("to-es", 1, "succeeded")]
    later = show(client, user, view["id"])
    second = steps_by_name(later)["back"]
    with app.app_context():
        assert handle.session.get(Job, second["job_id"]).params["text"] == "El gato es negro."
        handle.session.remove()
    assert 0 < later["progress"]["percent"] < 100
    assert steps_by_name(later)["to-es"]["links"]["result"] == f"/api/v1/jobs/{first}/result"

    claimed = claim(worker, second["job_id"])
    worker("POST", f"/jobs/{second['job_id']}/succeed",
           json={"claim_id": claimed["claim_id"], "result": {"translated_text": "The cat is black."}})
    final = show(client, user, view["id"])
    assert final["status"] == "succeeded" and final["progress"]["percent"] == 100.0
    assert final["finished_at"] is not None


def test_a_failed_step_fails_the_pipeline_with_its_message_and_the_next_never_starts(
        client, make_user, worker, app):
    user = make_user()
    view = submit(client, user, steps=TWO_STEPS)
    first = steps_by_name(view)["to-es"]["job_id"]
    claimed = claim(worker, first)
    worker("POST", f"/jobs/{first}/fail", json={"claim_id": claimed["claim_id"], "error": "dictionary on fire",
                                                "transient": False})
    failed = show(client, user, view["id"])
    assert failed["status"] == "failed"
    assert "to-es" in failed["error"] and "dictionary on fire" in failed["error"]
    assert steps_by_name(failed)["back"]["status"] == "pending"
    assert step_jobs(app, view["id"]) == [("to-es", 1, "failed")]

    retried = client.post(f"/api/v1/pipelines/{view['id']}/retry", headers=user.headers)
    assert retried.status_code == 202, retried.json
    assert retried.json["status"] == "running" and retried.json["run"] == 2
    assert step_jobs(app, view["id"]) == [("to-es", 1, "failed"), ("to-es", 2, "queued")]
    again = steps_by_name(retried.json)["to-es"]["job_id"]
    claimed = claim(worker, again)
    worker("POST", f"/jobs/{again}/succeed",
           json={"claim_id": claimed["claim_id"], "result": {"translated_text": "El gato es negro."}})
    assert step_jobs(app, view["id"]) == [("back", 2, "queued"), ("to-es", 1, "failed"), ("to-es", 2, "succeeded")]
    assert client.post(f"/api/v1/pipelines/{view['id']}/retry", headers=user.headers).status_code == 409


def test_cancel_stops_the_running_step_and_the_pending_one_never_starts(client, make_user, worker, app):
    user = make_user()
    view = submit(client, user, steps=TWO_STEPS)
    first = steps_by_name(view)["to-es"]["job_id"]
    claimed = claim(worker, first)
    cancelled = client.post(f"/api/v1/pipelines/{view['id']}/cancel", headers=user.headers)
    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json["status"] == "cancelled"
    # The worker learns it at its next callback; its late success is refused and starts nothing.
    assert worker("POST", f"/jobs/{first}/events", json={"claim_id": claimed["claim_id"], "events": []}
                  ).json["cancelled"] is True
    late = worker("POST", f"/jobs/{first}/succeed", json={"claim_id": claimed["claim_id"],
                                                          "result": {"translated_text": "x"}})
    assert late.status_code == 409
    assert step_jobs(app, view["id"]) == [("to-es", 1, "cancelled")]
    assert client.post(f"/api/v1/pipelines/{view['id']}/cancel", headers=user.headers).status_code == 409


@pytest.mark.parametrize("route", ["", "/cancel", "/retry", "/subtitles/es"])
def test_other_users_pipelines_are_not_found(client, two_users, route):
    owner, other = two_users
    view = submit(client, owner, steps=TWO_STEPS)
    method = client.post if route in ("/cancel", "/retry") else client.get
    reply = method(f"/api/v1/pipelines/{view['id']}{route}", headers=other.headers)
    assert reply.status_code == 404
    assert client.get("/api/v1/pipelines", headers=other.headers).json["total"] == 0
    assert show(client, owner, view["id"])["status"] == "running"


@pytest.mark.parametrize("body, status, words", [
    ({"steps": [{"name": "a", "kind": "translate", "options": {"text": "Hi.", "source_lang": "en",
                                                                "target_lang": "xx"}}]}, 400, "Step 'a'"),
    ({"steps": [{"name": "a", "kind": "translate", "options": {"text": "Hi.", "source_lang": "en",
                                                                "target_lang": "es", "colour": 1}}]}, 400, "colour"),
    ({"steps": [{"name": "a", "kind": "translate", "options": {"text": "Hi.", "source_lang": "en",
                                                                "target_lang": "es", "priority": "high"}}]},
     400, "on the pipeline"),
    ({"steps": [TWO_STEPS[0], {**TWO_STEPS[1], "options": {"source_lang": "auto", "target_lang": "en"}}]},
     400, "auto"),
    ({"steps": [{"name": "a", "kind": "translate", "input": "b", "options": {}},
                {"name": "b", "kind": "translate", "input": "a", "options": {}}]}, 400, "cycle"),
    ({"preset": "transcribe-translate", "options": {"target_lang": "es"}}, 400, "upload"),
    ({"preset": "read-translate", "steps": TWO_STEPS}, 400, "not both"),
    ({"preset": "nope"}, 400, "Unknown preset"),
])
def test_a_pipeline_that_cannot_run_is_refused_at_submit(client, make_user, app, body, status, words):
    user = make_user()
    reply = client.post("/api/v1/pipelines", headers=user.headers, json=body)
    assert reply.status_code == status, reply.json
    assert words in reply.json["message"]
    with app.app_context():
        assert handle.session.scalar(select(func.count()).select_from(Job).where(Job.user_id == user.id)) == 0
        handle.session.remove()


def test_reading_text_from_images_is_refused_when_no_vision_worker_reads_text(client, make_user, app):
    with app.app_context():
        handle.session.merge(WorkerRecord(id="vision-without-ocr", kind="vision", capabilities={"models": [
            {"id": 1, "name": "SSD", "kind": "detection", "type": "detection_model", "engine": "opencv-dnn",
             "labels_count": 80, "title": "SSD"}]}))
        handle.session.commit()
        handle.session.remove()
    user = make_user()
    reply = client.post("/api/v1/pipelines", headers=user.headers, content_type="multipart/form-data",
                        data={"preset": "read-translate", "options": '{"target_lang": "es"}',
                              "file": (__import__("io").BytesIO(b"\x89PNG"), "notice.png")})
    with app.app_context():
        handle.session.delete(handle.session.get(WorkerRecord, "vision-without-ocr"))
        handle.session.commit()
        handle.session.remove()
    assert reply.status_code == 400, reply.json
    assert "reads text" in reply.json["message"]


def test_an_idempotency_key_gives_back_the_first_pipeline_and_refuses_another_request(client, make_user, app):
    user = make_user()
    headers = {**user.headers, "Idempotency-Key": "lecture-42"}
    first = client.post("/api/v1/pipelines", headers=headers, json={"steps": TWO_STEPS})
    again = client.post("/api/v1/pipelines", headers=headers, json={"steps": TWO_STEPS})
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert step_jobs(app, first.json["id"]) == [("to-es", 1, "queued")]
    other = client.post("/api/v1/pipelines", headers=headers, json={"steps": TWO_STEPS[:1]})
    assert other.status_code == 409
    # The same key on a plain job submit is another request too.
    job = client.post("/api/v1/jobs/translate", headers=headers,
                      json={"text": "Hi.", "source_lang": "en", "target_lang": "es"})
    assert job.status_code == 409


def test_progress_is_weighted_by_the_expected_time_of_each_step(client, make_user, worker):
    user = make_user()
    view = submit(client, user, steps=[
        {"name": "short", "kind": "translate", "options": {"text": "Hi.", "source_lang": "en", "target_lang": "es"}},
        {"name": "other", "kind": "translate", "options": {"text": "Bye.", "source_lang": "en", "target_lang": "es"}},
        {"name": "after", "kind": "translate", "input": "short", "options": {"source_lang": "es",
                                                                              "target_lang": "en"}}])
    assert view["progress"]["eta_seconds"] > 0
    first = steps_by_name(view)["other"]["job_id"]
    claimed = claim(worker, first)
    worker("POST", f"/jobs/{first}/succeed", json={"claim_id": claimed["claim_id"],
                                                    "result": {"translated_text": "Adiós."}})
    # Three translate steps weigh the same: one of three done is a third of the way.
    later = show(client, user, view["id"])
    assert later["progress"]["percent"] == pytest.approx(33.3, abs=0.1)
    assert later["progress"]["eta_seconds"] < view["progress"]["eta_seconds"]


def test_two_simultaneous_reports_of_a_success_start_the_next_step_once(client, make_user, worker, app, live_api,
                                                                         config):
    user = make_user()
    view = submit(client, user, steps=TWO_STEPS)
    first = steps_by_name(view)["to-es"]["job_id"]
    claimed = claim(worker, first)
    body = {"claim_id": claimed["claim_id"], "result": {"translated_text": "El gato es negro."}}
    gate = threading.Barrier(4)
    replies = []

    def report():
        gate.wait()
        replies.append(requests.post(f"{live_api}/internal/v1/jobs/{first}/succeed", json=body, timeout=30,
                                     headers={"X-Worker-Token": config.WORKER_TOKEN}).status_code)
    threads = [threading.Thread(target=report) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert replies == [200] * 4
    assert step_jobs(app, view["id"]) == [("back", 1, "queued"), ("to-es", 1, "succeeded")]


def test_a_step_whose_workers_keep_vanishing_fails_the_pipeline_through_the_relays_reaper(
        client, make_user, worker, app, relay_factory, config):
    user = make_user()
    view = submit(client, user, steps=TWO_STEPS)
    first = steps_by_name(view)["to-es"]["job_id"]
    claim(worker, first)
    # The worker vanished on its last attempt: its lease has run out and no attempt is left.
    with app.app_context():
        handle.session.execute(update(Job).where(Job.id == first).values(
            lease_expires_at=utcnow(), attempts=config.MAX_ATTEMPTS))
        handle.session.commit()
        handle.session.remove()
    relay = relay_factory()
    with relay.app.app_context():
        assert relay.reap() == 1
    failed = show(client, user, view["id"])
    assert failed["status"] == "failed" and "stopped responding" in failed["error"]
    assert step_jobs(app, view["id"]) == [("to-es", 1, "failed")]


def test_deleting_a_running_step_cancels_its_pipeline(client, make_user, worker):
    user = make_user()
    view = submit(client, user, steps=TWO_STEPS)
    first = steps_by_name(view)["to-es"]["job_id"]
    claim(worker, first)
    assert client.delete(f"/api/v1/jobs/{first}", headers=user.headers).status_code == 204
    after = show(client, user, view["id"])
    assert after["status"] == "cancelled" and "'to-es'" in after["error"]
    assert [step["status"] for step in after["steps"]] == ["pending", "pending"]


def test_a_step_that_hands_on_no_text_fails_the_pipeline_and_retrying_it_is_refused(client, make_user, worker, app):
    user = make_user()
    view = submit(client, user, steps=TWO_STEPS)
    first = steps_by_name(view)["to-es"]["job_id"]
    claimed = claim(worker, first)
    worker("POST", f"/jobs/{first}/succeed", json={"claim_id": claimed["claim_id"],
                                                    "result": {"translated_text": "  "}})
    failed = show(client, user, view["id"])
    assert failed["status"] == "failed" and "no text" in failed["error"]
    again = client.post(f"/api/v1/pipelines/{view['id']}/retry", headers=user.headers)
    assert again.status_code == 409 and "no text" in again.json["message"]
    assert show(client, user, view["id"])["status"] == "failed"
    assert step_jobs(app, view["id"]) == [("to-es", 1, "succeeded")]


THREE_STEPS = [*TWO_STEPS, {"name": "to-ca", "kind": "translate", "input": "back",
                            "options": {"source_lang": "en", "target_lang": "ca"}}]


def submit_job(client, user, text="Good morning."):
    return client.post("/api/v1/jobs/translate", headers=user.headers,
                       json={"text": text, "source_lang": "en", "target_lang": "es"})


def test_a_pipeline_reserves_all_its_steps_against_the_active_job_limit(client, make_user, worker, config):
    assert config.MAX_ACTIVE_JOBS == 5
    user = make_user()
    view = submit(client, user, steps=THREE_STEPS)  # one step queued, two to come: three reserved
    assert [submit_job(client, user).status_code for _ in range(3)] == [202, 202, 429]
    first = steps_by_name(view)["to-es"]["job_id"]
    claimed = claim(worker, first)
    worker("POST", f"/jobs/{first}/succeed",
           json={"claim_id": claimed["claim_id"], "result": {"translated_text": "El gato es negro."}})
    # The next step started in the slot it had reserved; the finished step's slot is free.
    assert steps_by_name(show(client, user, view["id"]))["back"]["status"] == "queued"
    assert submit_job(client, user).status_code == 202
    refused = submit_job(client, user)
    assert refused.status_code == 429 and "pipelines" in refused.json["message"], refused.json
    # A pipeline is refused like a job (its two steps would make seven).
    again = client.post("/api/v1/pipelines", headers=user.headers, json={"steps": TWO_STEPS})
    assert again.status_code == 429 and "active jobs" in again.json["message"]
    # Cancelling the pipeline frees its steps, the pending one too.
    assert client.post(f"/api/v1/pipelines/{view['id']}/cancel", headers=user.headers).status_code == 200
    assert [submit_job(client, user).status_code for _ in range(3)] == [202, 202, 429]



def test_a_retry_reserves_again_the_steps_it_will_run(client, make_user, worker, app):
    user = make_user()
    view = submit(client, user, steps=THREE_STEPS)
    first = steps_by_name(view)["to-es"]["job_id"]
    claimed = claim(worker, first)
    worker("POST", f"/jobs/{first}/fail", json={"claim_id": claimed["claim_id"], "error": "out of ink",
                                                "transient": False})
    assert show(client, user, view["id"])["status"] == "failed"  # its three slots are free again
    jobs = [submit_job(client, user) for _ in range(3)]
    assert [reply.status_code for reply in jobs] == [202] * 3
    # Running it again needs its three steps: six with the three jobs.
    refused = client.post(f"/api/v1/pipelines/{view['id']}/retry", headers=user.headers)
    assert refused.status_code == 429, refused.json
    assert show(client, user, view["id"])["status"] == "failed" and step_jobs(app, view["id"]) == [
        ("to-es", 1, "failed")]
    assert client.post(f"/api/v1/jobs/{jobs[0].json['id']}/cancel", headers=user.headers).status_code == 200
    retried = client.post(f"/api/v1/pipelines/{view['id']}/retry", headers=user.headers)
    assert retried.status_code == 202 and retried.json["run"] == 2, retried.json
    assert submit_job(client, user).status_code == 429

def test_a_pipeline_with_more_steps_than_the_limit_is_refused_as_one_that_could_never_run(client, make_user, app):
    user = make_user()
    steps = [{"name": f"s{i}", "kind": "translate", "options": {"text": "Hello.", "source_lang": "en",
                                                                "target_lang": "es"}} for i in range(6)]
    reply = client.post("/api/v1/pipelines", headers=user.headers, json={"steps": steps})
    assert reply.status_code == 400 and "6 steps" in reply.json["message"] and "limit of 5" in reply.json["message"]
    assert submit_job(client, user).status_code == 202  # nothing of it was kept


def _at_once(requests_to_send) -> list[int]:
    """Send the requests from as many threads, released together; their status codes in order."""
    gate = threading.Barrier(len(requests_to_send))
    codes: list[int] = [0] * len(requests_to_send)

    def send(index, url, body, headers):
        gate.wait()
        codes[index] = requests.post(url, json=body, headers=headers, timeout=60).status_code
    threads = [threading.Thread(target=send, args=(index, *request)) for index, request in enumerate(requests_to_send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return codes


def reserved(app, user_id) -> int:
    with app.app_context():
        from shared import jobflow
        count = jobflow.lock_user_and_count_active_jobs(user_id)
        handle.session.rollback()
        handle.session.remove()
    return count


def test_pipelines_submitted_at_once_cannot_pass_the_limit_together(client, make_user, live_api, app):
    user = make_user()
    pipeline = (f"{live_api}/api/v1/pipelines", {"steps": TWO_STEPS}, user.headers)
    codes = _at_once([pipeline] * 6)
    # Two pipelines (four steps) fit under five; a third would make six.
    assert sorted(codes) == [202, 202, 429, 429, 429, 429], codes
    assert reserved(app, user.id) == 4

    other = make_user()
    pipeline = (f"{live_api}/api/v1/pipelines", {"steps": TWO_STEPS}, other.headers)
    job = (f"{live_api}/api/v1/jobs/translate", {"text": "Hello.", "source_lang": "en", "target_lang": "es"},
           other.headers)
    codes = _at_once([pipeline, job] * 4)
    accepted = sum(2 if request is pipeline else 1
                   for request, code in zip([pipeline, job] * 4, codes) if code == 202)
    assert set(codes) == {202, 429}, codes
    # Whatever order they ran in: never past five, and nothing refused that would have fitted
    # (a refused job means five were taken, a refused pipeline at least four).
    assert reserved(app, other.id) == accepted and 4 <= accepted <= 5, codes


def test_a_pipeline_upload_larger_than_the_limit_is_refused_with_413_and_nothing_is_kept(
        client, make_user, config):
    """HARDENING S7 for pipelines, as for a job's upload (the test limit is 1 MB)."""
    user = make_user()
    too_big = io.BytesIO(b"\0" * (config.MAX_UPLOAD_BYTES + 1))
    reply = client.post("/api/v1/pipelines", headers=user.headers, content_type="multipart/form-data",
                        data={"preset": "transcribe-translate", "options": '{"target_lang": "es"}',
                              "file": (too_big, "too-big-lecture.wav")})
    assert reply.status_code == 413 and reply.json["code"] == 413, reply.json
    assert client.get("/api/v1/pipelines", headers=user.headers).json["total"] == 0
    assert not list(config.STORAGE_DIR.rglob("too-big-lecture.wav"))
