"""Pipelines run exactly once under faults, with real processes killed at the points that matter.

Starting the next step is part of the transaction that records the previous step's success (its
job and outbox row commit with that success), so:

- the relay killed -9 after a step succeeded but before it published the next step's message
  loses nothing: another relay publishes the row the dead one never marked sent;
- the relay killed -9 after the broker confirmed the message but before the row was marked sent
  publishes it twice: the step runs once (the claim of a started job is a no-op), and its own
  successor starts once;
- a worker killed -9 in the middle of a step: the lease hands the step back, another worker runs
  it again (attempt 2), and the steps after it start once;
- the broker stopped and started again between two steps (a PRIVATE RabbitMQ node, never the
  shared one): the next step waits in the outbox and runs once when the broker is back.

Each ends in exactly one terminal state with one job per step. (Cancelling in the middle of an asr
step is test_pipelines_workers.py's test_cancel_during_asr_...)
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import uuid

import pytest
from sqlalchemy import select

from shared.db import db as handle
from shared.models import Job, OutboxMessage
from tests.broker_tools import PRIVATE_NODE_POSSIBLE, PrivateRabbit
from tests.conftest import relay_running, wait_for

# Submits are checked against the translate workers' registrations; the victims register late.
pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


def chain(length: int = 3) -> list[dict]:
    """English to Spanish, back to English, into Catalan: steps named uniquely for this test.

    Other tests leave pipelines with steps of the same shape queued (their outbox rows pending,
    which the relays here publish too): a unique number in the names and the text lets a test stop
    the relay, or hold a worker, at its own step.
    """
    tag = str(uuid.uuid4().int)[:8]  # digits: Apertium passes them through as they are
    return [
        {"name": f"to-es-{tag}", "kind": "translate", "options": {
            "text": f"The cat is black. {tag}", "source_lang": "en", "target_lang": "es"}},
        {"name": f"back-{tag}", "kind": "translate", "input": f"to-es-{tag}",
         "options": {"source_lang": "es", "target_lang": "en"}},
        {"name": f"to-ca-{tag}", "kind": "translate", "input": f"back-{tag}",
         "options": {"source_lang": "en", "target_lang": "ca"}},
    ][:length]


def submit(client, user, steps):
    # High priority: jobs other tests left queued (this run's queues are shared) wait behind these.
    reply = client.post("/api/v1/pipelines", headers=user.headers, json={"steps": steps, "priority": "high"})
    assert reply.status_code == 202, reply.json
    return reply.json


def view(client, user, pipeline_id):
    return client.get(f"/api/v1/pipelines/{pipeline_id}", headers=user.headers).json


def ended(client, user, pipeline_id, timeout=90.0):
    def done():
        found = view(client, user, pipeline_id)
        return found if found["status"] != "running" else None
    return wait_for(done, timeout=timeout, interval=0.2, message=f"pipeline {pipeline_id} to end")


def step_jobs(app, pipeline_id) -> dict[str, list[Job]]:
    """Every job of the pipeline, by step (a duplicate start would put two under one name)."""
    with app.app_context():
        rows = handle.session.scalars(select(Job).where(Job.pipeline_id == pipeline_id)).all()
        handle.session.expunge_all()
        handle.session.remove()
    found: dict[str, list[Job]] = {}
    for job in rows:
        found.setdefault(job.pipeline_step, []).append(job)
    return found


def outbox_rows(app, job_id) -> list[OutboxMessage]:
    with app.app_context():
        rows = handle.session.scalars(select(OutboxMessage).where(OutboxMessage.job_id == job_id)
                                      .order_by(OutboxMessage.id)).all()
        handle.session.expunge_all()
        handle.session.remove()
    return rows


def step_job(app, pipeline_id, name):
    jobs = step_jobs(app, pipeline_id).get(name, [])
    return jobs[0] if len(jobs) == 1 else None


def assert_ran_once_each(client, user, app, pipeline, steps, translated_word):
    """The pipeline succeeded with exactly one job per step, each in one terminal state."""
    done = ended(client, user, pipeline["id"])
    assert done["status"] == "succeeded", done
    jobs = step_jobs(app, pipeline["id"])
    assert {name: len(found) for name, found in jobs.items()} == {step["name"]: 1 for step in steps}
    assert all(found[0].status == "succeeded" for found in jobs.values())
    last = jobs[steps[-1]["name"]][0]
    assert translated_word in last.result["translated_text"].lower(), last.result
    return jobs


def start_process(args, **env):
    return subprocess.Popen([sys.executable, "-m", *args], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill_nine(process):
    process.send_signal(signal.SIGKILL)
    process.wait(15)


def end_process_group(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture
def processes():
    """Processes a test starts; those still alive at its end are stopped (their whole group)."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        end_process_group(process)


@pytest.mark.parametrize("point", ["before-publish", "before-mark-sent"])
def test_the_relay_killed_between_a_steps_success_and_the_next_publish_loses_and_repeats_nothing(
        client, make_user, app, database, broker, translate_worker, processes, tmp_path, caplog, point):
    caplog.set_level(logging.INFO, logger="shared.worker.consumer")
    user = make_user()
    marker = tmp_path / "paused"
    steps = chain()
    first, second, third = (step["name"] for step in steps)
    victim = start_process(["tests.integration.pausing_relay", str(marker), second, point])
    processes.append(victim)
    pipeline = submit(client, user, steps)
    wait_for(marker.exists, timeout=120, message=f"the relay to stop {point} of the second step")
    back = step_job(app, pipeline["id"], second)
    assert back is not None and str(back.id) == marker.read_text()
    # The first step's success committed the next step's job and its outbox row together.
    assert step_job(app, pipeline["id"], first).status == "succeeded"
    kill_nine(victim)
    [row] = outbox_rows(app, back.id)
    assert row.sent_at is None, "the relay died before marking the row sent"
    if point == "before-mark-sent":
        # The broker has the message already (it was confirmed): the worker may be running it now.
        assert step_job(app, pipeline["id"], second).status in ("queued", "running", "succeeded")
    else:
        assert step_job(app, pipeline["id"], second).status == "queued"
        assert third not in step_jobs(app, pipeline["id"])

    processes.append(start_process(["services.relay"]))  # the real relay, supervised, as make up runs it
    jobs = assert_ran_once_each(client, user, app, pipeline, steps, "gat")
    assert [jobs[name][0].attempts for name in (first, second, third)] == [1, 1, 1]
    assert outbox_rows(app, back.id)[0].sent_at is not None
    if point == "before-mark-sent":
        # The message went out twice; the second delivery found the step started and did nothing.
        wait_for(lambda: f"job {back.id}: nothing to do" in caplog.text, timeout=30,
                 message="the second delivery of the second step to be dropped")
        assert caplog.text.count(f"job {back.id}: started") == 1


@pytest.mark.parametrize("supervised", [False, True], ids=["lease", "supervisor"])
def test_a_worker_killed_in_the_middle_of_a_step_runs_it_again_and_starts_the_next_once(
        client, make_user, app, relay, live_api, start_worker, processes, supervised):
    """Killed alone, the step comes back when its lease runs out (a real Apertium worker takes it
    over); killed under its supervisor, as ``make up`` runs workers, the supervisor hands it back
    at once and the restarted worker runs it and the next step."""
    user = make_user()
    env = {"CONVEYOR_API_URL": live_api, "SLOW_WORKER_STEPS": "30"}
    if supervised:
        env["SLOW_WORKER_SUPERVISED"] = "1"
    victim = start_process(["tests.integration.slow_worker"], **env)
    processes.append(victim)
    steps = chain(2)
    first, second = (step["name"] for step in steps)
    pipeline = submit(client, user, steps)
    first_job = pipeline["steps"][0]["job_id"]
    wait_for(lambda: client.get(f"/api/v1/jobs/{first_job}/chunks", headers=user.headers).json, timeout=120,
             message="the victim to be in the middle of the first step")
    if supervised:
        # The worker process itself (named slow-<pid>), not its supervisor.
        os.kill(int(step_job(app, pipeline["id"], first).worker_id.removeprefix("slow-")), signal.SIGKILL)
    else:
        kill_nine(victim)
        assert step_job(app, pipeline["id"], first).status == "running"
    assert second not in step_jobs(app, pipeline["id"])
    if not supervised:
        start_worker()  # a real Apertium worker takes the step over once the lease has run out
    # The slow worker's stand-in handler answers "done"; Apertium translates the cat back.
    jobs = assert_ran_once_each(client, user, app, pipeline, steps, "done" if supervised else "cat")
    assert jobs[first][0].attempts == 2 and jobs[second][0].attempts == 1
    assert [row.payload.get("attempt") for row in outbox_rows(app, jobs[second][0].id)] == [1]


@pytest.fixture
def private_rabbit():
    rabbit = PrivateRabbit("pipefaults")
    try:
        rabbit.start()
        yield rabbit
    finally:
        rabbit.stop()


@pytest.mark.broker_outage
@pytest.mark.timeout(900)
@pytest.mark.skipif(not PRIVATE_NODE_POSSIBLE, reason="needs RabbitMQ's server scripts and root (a private node)")
def test_a_broker_restart_between_two_steps_runs_the_next_step_once(
        client, make_user, app, database, private_rabbit, start_worker, translate_pairs, monkeypatch,
        _own_queue_prefix):
    from services.translate_worker.translate import process

    prefix = f"pipefaults{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AMQP_URL", private_rabbit.url)
    monkeypatch.setenv("CONVEYOR_AMQP_PREFIX", prefix)
    entered, release = threading.Event(), threading.Event()
    steps = chain(2)
    first, second = (step["name"] for step in steps)
    first_text = steps[0]["options"]["text"]

    def held_first_step(job, io):
        """Apertium's translation, held at the first step until the test has stopped the broker."""
        if job["params"]["text"] == first_text:
            entered.set()
            release.wait(300)
        return process(job, io)

    # Earlier tests' jobs would queue ahead of the chain's: relay_running retires them first.
    with relay_running(app, database, private_rabbit.url, prefix, _own_queue_prefix):
        try:
            start_worker(handler=held_first_step, capabilities=lambda: {"pairs": translate_pairs})
            user = make_user()
            pipeline = submit(client, user, steps)
            wait_for(entered.is_set, timeout=120, message="the worker to run the first step")
            private_rabbit.halt()
            release.set()

            def next_step_held_back():
                back = step_job(app, pipeline["id"], second)
                rows = outbox_rows(app, back.id) if back is not None else []
                return rows and rows[0].sent_at is None and rows[0].attempts >= 1
            wait_for(next_step_held_back, timeout=60, message="the relay to fail publishing the second step")
            assert step_job(app, pipeline["id"], first).status == "succeeded"
            assert step_job(app, pipeline["id"], second).status == "queued"

            private_rabbit.start()
            jobs = assert_ran_once_each(client, user, app, pipeline, steps, "cat")
            assert [jobs[name][0].attempts for name in (first, second)] == [1, 1]
            [row] = outbox_rows(app, jobs[second][0].id)
            assert row.sent_at is not None
        finally:
            release.set()
