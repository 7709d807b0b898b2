"""Jobs travelling through the real RabbitMQ, outbox relay, workers and API (HARDENING R1-R13)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from shared.db import db as handle
from shared.messaging import encode_message
from shared.models import Job, OutboxMessage
from tests.conftest import wait_for
from tests.integration import slow_worker
from tests.integration.slow_worker import slow_handler

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


def submit(client, user, text="The cat is black. The house is big.", source="en", target="es", **extra):
    reply = client.post("/api/v1/jobs/translate", headers=user.headers,
                        json={"text": text, "source_lang": source, "target_lang": target, **extra})
    assert reply.status_code == 202, reply.json
    return reply.json


def wait_status(client, user, job_id, statuses=("succeeded", "failed", "partial", "cancelled"), timeout=30.0):
    def finished():
        job = client.get(f"/api/v1/jobs/{job_id}", headers=user.headers).json
        return job if job["status"] in statuses else None
    return wait_for(finished, timeout=timeout, message=f"job {job_id} to reach {statuses}")


def job_row(app, job_id):
    with app.app_context():
        job = handle.session.get(Job, uuid.UUID(job_id))
        handle.session.expunge_all()
        return job


def test_a_translation_travels_to_a_real_spanish_result(client, make_user, relay, translate_worker):
    user = make_user()
    job = submit(client, user)
    done = wait_status(client, user, job["id"])
    assert done["status"] == "succeeded"
    assert done["progress"]["percent"] == 100.0 and done["progress"]["unit"] == "characters"
    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers).json["result"]
    text = result["translated_text"].lower()
    assert "gato" in text and "negro" in text and "casa" in text
    assert result["word_count"] == 8 and result["route"] == ["en", "es"]
    export = client.get(f"/api/v1/jobs/{job['id']}/export?format=txt", headers=user.headers)
    assert export.status_code == 200 and export.get_data(as_text=True) == result["translated_text"]
    assert "attachment" in export.headers["Content-Disposition"]


def test_pivoting_through_spanish_gives_french(client, make_user, relay, translate_worker):
    user = make_user()
    job = submit(client, user, text="The cat is black.", target="fr")
    assert wait_status(client, user, job["id"])["status"] == "succeeded"
    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers).json["result"]
    assert result["route"] == ["en", "es", "fr"]
    assert "chat" in result["translated_text"].lower() and "noir" in result["translated_text"].lower()


def test_server_sent_events_stream_status_until_the_end(client, make_user, relay, translate_worker):
    user = make_user()
    job = submit(client, user)
    reply = client.get(f"/api/v1/jobs/{job['id']}/events", headers=user.headers)
    assert reply.mimetype == "text/event-stream"
    events = [block for block in reply.get_data(as_text=True).split("\n\n") if block.startswith("event:")]
    kinds = [block.split("\n")[0].split(": ")[1] for block in events]
    assert kinds[0] == "status" and kinds[-1] == "end"
    last_status = json.loads(events[-2].split("data: ", 1)[1])
    assert last_status["status"] == "succeeded" and last_status["progress"]["percent"] == 100.0


def test_high_priority_overtakes_normal_in_a_busy_queue(client, make_user, relay, start_worker, broker):
    user = make_user()
    other = make_user()
    start_worker(slow_handler)
    blocker = submit(client, user)
    wait_status(client, user, blocker["id"], statuses=("running",))
    normal = [submit(client, user, text=f"normal {i}") for i in range(3)]
    high = submit(client, other, text="urgent", priority="high")
    wait_status(client, other, high["id"], timeout=60)
    assert client.get(f"/api/v1/jobs/{normal[0]['id']}", headers=user.headers).json["status"] in ("queued", "running")


def test_cancelling_a_running_job_keeps_the_chunks_as_partial(client, make_user, relay, start_worker, app):
    user = make_user()
    start_worker(slow_handler)
    job = submit(client, user)
    wait_for(lambda: client.get(f"/api/v1/jobs/{job['id']}/chunks", headers=user.headers).json,
             message="a first chunk")
    reply = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user.headers)
    assert reply.json["status"] == "partial"
    kept = len(client.get(f"/api/v1/jobs/{job['id']}/chunks", headers=user.headers).json)
    # The worker stops at its next callback: no more chunks are stored, and the state stays partial.
    time.sleep(slow_worker.STEP_SECONDS * 3)
    assert len(client.get(f"/api/v1/jobs/{job['id']}/chunks", headers=user.headers).json) == kept < slow_worker.STEPS
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).json["status"] == "partial"


def test_r1_a_crash_between_publish_and_mark_sent_republishes_and_runs_once(
        client, make_user, app, database, broker, start_worker, relay_factory):
    """R1 + R9: the job is published again after the relay's crash, and processed once."""
    user = make_user()
    job = submit(client, user)
    crashing = relay_factory()

    def die(row):
        raise SystemExit("relay killed after publishing")
    crashing._mark_sent = die
    with crashing.app.app_context(), pytest.raises(SystemExit):
        crashing.relay_batch()
    with app.app_context():
        assert handle.session.query(OutboxMessage).filter_by(job_id=job["id"]).one().sent_at is None
    healthy = relay_factory()
    with healthy.app.app_context():
        assert healthy.relay_batch() >= 1
    with app.app_context():
        assert handle.session.query(OutboxMessage).filter_by(job_id=job["id"]).one().sent_at is not None
    slow_worker.CALLS.clear()
    start_worker(slow_handler)
    assert wait_status(client, user, job["id"])["status"] == "succeeded"
    wait_for(lambda: broker.count("translate") == 0, message="the duplicate to be consumed")
    assert slow_worker.CALLS.count(job["id"]) == 1
    assert job_row(app, job["id"]).attempts == 1


def test_r9_the_same_job_delivered_twice_is_processed_once(client, make_user, app, broker, start_worker):
    user = make_user()
    job = submit(client, user)
    message = encode_message(job["id"], "translate", 1)
    slow_worker.CALLS.clear()
    broker.publish_raw("translate", message)
    broker.publish_raw("translate", message)
    start_worker(slow_handler)
    start_worker(slow_handler)
    assert wait_status(client, user, job["id"])["status"] == "succeeded"
    wait_for(lambda: broker.count("translate") == 0, message="both deliveries consumed")
    assert slow_worker.CALLS.count(job["id"]) == 1
    assert job_row(app, job["id"]).attempts == 1


def test_r6_poison_messages_are_dead_lettered_and_their_job_failed(client, make_user, broker, start_worker):
    broker.purge("translate")
    start_worker(slow_handler)
    broker.publish_raw("translate", b"\x00 definitely not json")
    wait_for(lambda: broker.count("translate", dead_letter=True) == 1, message="garbage in the DLQ")
    user = make_user()
    job = submit(client, user)
    broker.publish_raw("translate", {"job_id": job["id"], "kind": "translate", "schema_version": 99})
    failed = wait_status(client, user, job["id"])
    assert failed["status"] == "failed" and "schema_version" in failed["error"]
    wait_for(lambda: broker.count("translate", dead_letter=True) >= 2, message="the bad schema in the DLQ")


def test_r4_a_killed_worker_is_replaced_and_the_job_finishes_once(
        client, make_user, app, relay, live_api, broker, start_worker, config):
    user = make_user()
    env = {**os.environ, "CONVEYOR_API_URL": live_api, "SLOW_WORKER_STEPS": "10"}
    victim = subprocess.Popen([sys.executable, "-m", "tests.integration.slow_worker"], env=env,
                              stderr=subprocess.DEVNULL)
    try:
        job = submit(client, user)
        wait_for(lambda: client.get(f"/api/v1/jobs/{job['id']}/chunks", headers=user.headers).json,
                 timeout=30, message="the first chunk from the victim")
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
    start_worker(slow_handler)
    done = wait_status(client, user, job["id"], timeout=60)
    assert done["status"] == "succeeded" and done["attempts"] == 2
    chunks = client.get(f"/api/v1/jobs/{job['id']}/chunks", headers=user.headers).json
    assert [c["seq"] for c in chunks] == list(range(slow_worker.STEPS))
    assert {c["data"]["pid"] for c in chunks} == {os.getpid()}, "the second worker rewrote every chunk once"


@pytest.mark.broker_outage
@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs the local broker's rabbitmqctl")
def test_r2_jobs_submitted_while_the_broker_is_down_run_when_it_returns(
        client, make_user, relay, translate_worker):
    user = make_user()
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)
    try:
        job = submit(client, user)
        assert job["status"] == "queued"
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    done = wait_status(client, user, job["id"], timeout=90)
    assert done["status"] == "succeeded"
    assert "gato" in client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers
                                ).json["result"]["translated_text"].lower()


def test_r5_sigterm_finishes_the_current_job_then_exits(client, make_user, relay, live_api, app):
    user = make_user()
    env = {**os.environ, "CONVEYOR_API_URL": live_api, "SLOW_WORKER_STEPS": "6"}
    worker = subprocess.Popen([sys.executable, "-m", "tests.integration.slow_worker"], env=env,
                              stderr=subprocess.DEVNULL)
    try:
        job = submit(client, user)
        wait_for(lambda: client.get(f"/api/v1/jobs/{job['id']}/chunks", headers=user.headers).json,
                 timeout=30, message="the worker to start the job")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    done = client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).json
    assert done["status"] == "succeeded" and done["attempts"] == 1


def test_a_queued_job_says_its_place_in_line_and_when_it_will_be_done(client, make_user, relay, start_worker):
    user = make_user()
    positions_read = threading.Event()

    def slow_then_held(job, io):
        # The blocker holds the worker until the positions are read: were it to end in between (a loaded
        # machine), the next job would start and the two positions would be one apart instead of two.
        if job["params"]["text"] == "blocker":
            positions_read.wait(30)
        return slow_handler(job, io)

    start_worker(slow_then_held)
    first = submit(client, user)
    assert wait_status(client, user, first["id"])["status"] == "succeeded"  # a measured duration
    blocker = submit(client, user, text="blocker")
    wait_status(client, user, blocker["id"], statuses=("running",))
    try:
        waiting = [submit(client, user, text=f"waiting {i}") for i in range(3)]
        first, third = (client.get(f"/api/v1/jobs/{job['id']}/progress", headers=user.headers).json
                        for job in (waiting[0], waiting[2]))
        running = client.get(f"/api/v1/jobs/{blocker['id']}/progress", headers=user.headers).json
    finally:
        positions_read.set()
    # Jobs left queued by other tests may stand ahead of ours: positions are compared, not absolute.
    assert third["queue_position"] == first["queue_position"] + 2
    assert third["message"].startswith(f"{third['queue_position']}") and ", ~" in third["message"]
    assert third["eta_seconds"] >= first["eta_seconds"] > 0
    assert running["queue_position"] is None


def test_r14_two_workers_run_two_slow_jobs_at_the_same_time(client, make_user, relay, start_worker, app):
    start_worker(slow_handler)
    start_worker(slow_handler)
    user = make_user()
    first, second = submit(client, user, text="one"), submit(client, user, text="two")
    for job in (first, second):
        assert wait_status(client, user, job["id"])["status"] == "succeeded"
    a, b = job_row(app, first["id"]), job_row(app, second["id"])
    assert a.worker_id != b.worker_id
    assert a.started_at < b.finished_at and b.started_at < a.finished_at, "the two runs overlap"


@pytest.mark.broker_outage
@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs the local broker's rabbitmqctl")
def test_r10_queued_messages_survive_a_broker_restart(client, make_user, relay_factory, broker):
    broker.purge("translate")
    user = make_user()
    jobs = [submit(client, user, text=f"job {i}") for i in range(3)]
    relay = relay_factory()
    with relay.app.app_context():
        relay.relay_batch()
    wait_for(lambda: broker.count("translate") >= len(jobs), message="the messages in the queue")
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    assert broker.count("translate") >= len(jobs)
