"""R7 with a real worker process: an input that kills the worker every time (``os._exit`` in the
handler) runs three times, then the job fails and is dead-lettered; the worker keeps serving.

The worker runs as ``make up`` runs one (a supervisor restarting a child, tests/integration/
crashing_worker.py). The restart pause is capped at 1 s here so the test is quick.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pika
import pytest

from shared.messaging import dead_letter_queue_name
from tests.integration.crashing_worker import CRASHING_TEXT
from tests.integration.test_pipeline import submit, wait_status

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


@pytest.fixture
def crashing_worker(tmp_path, live_api, own_prefix):
    """The supervised crashing worker on this test's prefix; returns the handler's call log."""
    log = tmp_path / "calls.log"
    env = {**os.environ, "CONVEYOR_API_URL": live_api, "CONVEYOR_AMQP_PREFIX": own_prefix,
           "CONVEYOR_RESTART_MAX_DELAY_SECONDS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "tests.integration.crashing_worker", str(log)], env=env,
                               stderr=subprocess.DEVNULL)
    yield log
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    finally:
        if process.poll() is None:
            process.kill()


def calls_for(log: Path, job_id: str) -> list[int]:
    """The pids of the handler calls for ``job_id``, in order."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [int(pid) for logged_id, pid in (line.split() for line in lines) if logged_id == job_id]


def dead_lettered_job_ids(amqp_url: str, prefix: str) -> list[str]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel, found = connection.channel(), []
        while True:
            method, _, body = channel.basic_get(dead_letter_queue_name(prefix, "translate"), auto_ack=True)
            if method is None:
                return found
            found.append(json.loads(body)["job_id"])
    finally:
        connection.close()


def test_an_input_that_kills_the_worker_runs_three_times_then_fails_and_is_dead_lettered(
        client, make_user, config, own_prefix, prefix_relay, crashing_worker):
    user = make_user()
    job = submit(client, user, text=CRASHING_TEXT)
    done = wait_status(client, user, job["id"], timeout=60)

    assert done["status"] == "failed" and done["attempts"] == 3
    assert done["error"].startswith("gave up after 3 attempts: worker crashing-")
    assert done["error"].endswith(" died (exit status 1)")
    pids = calls_for(crashing_worker, job["id"])
    assert len(pids) == 3 and len(set(pids)) == 3, f"three attempts, each in a new process: {pids}"

    # The worker still serves the queue: the next job succeeds, in a process that did not crash.
    after = wait_status(client, user, submit(client, user, text="still here")["id"], timeout=30)
    assert after["status"] == "succeeded" and after["attempts"] == 1
    assert len(calls_for(crashing_worker, job["id"])) == 3, "no fourth attempt, no hot loop"
    assert dead_lettered_job_ids(config.AMQP_URL, own_prefix).count(job["id"]) == 1
