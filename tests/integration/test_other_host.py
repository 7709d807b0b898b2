"""A worker on another host loses its network in the middle of a job, for longer than the lease.

The "other host" is a network namespace joined by a veth link (tests/netns.py); the worker there
(tests/integration/far_worker.py, a separate process) reaches RabbitMQ, the API and the object store
only through forwarders bound on the link's root address, and nothing else (checked first). Twice:
with the API's local store (the API is then the object store too), and with a real SeaweedFS S3
store, from which both workers fetch the job's input file by presigned URL. The store's endpoint is
its forwarder's address, which the API and the near worker reach as well (a local address of this
host), as a deployment names one address every host reaches. Then the link goes down while the far
worker computes: its lease runs out, the relay's reaper hands the job back, a worker on this host
finishes it. When the link returns, the far worker's late heartbeats and its result are refused
(409, stale claim), the job keeps the near worker's result, and the far worker takes the next job.
"""
from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shared.db import db as handle
from shared.models import WorkerRecord
from tests.conftest import wait_for
from tests.integration.test_pipeline import job_row, submit, wait_status
from tests.integration.test_silent_connection_drop import through
from tests.netns import Forwarder, reachable_from

ROOT = Path(__file__).resolve().parents[2]
CUT_SECONDS = 14.0  # well past the 3 s lease and the far worker's AMQP heartbeat (2 s, noticed in ~7-9 s)
# The far worker's job: long enough that the link is back before it ends, even on a loaded machine
# where starting the near worker takes seconds.
WORK_SECONDS = 40

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


def _registered(app, worker_id: str) -> bool:
    with app.app_context():
        found = handle.session.get(WorkerRecord, worker_id) is not None
        handle.session.remove()
        return found


def _refused_calls(caplog, job_id: str) -> list[str]:
    """The internal API's 409 answers about ``job_id``, from the API server's request log."""
    pattern = re.compile(rf'"POST /internal/v1/jobs/{job_id}/(\w+) HTTP/1.1" 409')
    lines = (re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage()) for record in caplog.records)  # colours
    return [match.group(1) for line in lines if (match := pattern.search(line))]


def _submit_work(client, user, seconds: int, as_file: bool) -> dict:
    if not as_file:
        return submit(client, user, text=f"work {seconds} s")
    reply = client.post("/api/v1/jobs/translate", headers=user.headers, data={
        "file": (io.BytesIO(f"work {seconds} s\n".encode()), "work.txt"), "source_lang": "en", "target_lang": "es"})
    assert reply.status_code == 202, reply.json
    return reply.json


@pytest.fixture(params=["local", "s3"])
def storage(request, app, other_host, monkeypatch):
    """None (the API's local files), or the forwarder to a real SeaweedFS the app now stores in."""
    if request.param == "local":
        monkeypatch.setitem(app.config, "STORAGE", "local")
        yield None
        return
    settings = request.getfixturevalue("seaweedfs")
    endpoint = urlsplit(settings["S3_ENDPOINT"])
    to_store = Forwarder(other_host.root_address, (endpoint.hostname, endpoint.port))
    for name, value in {**settings, "S3_ENDPOINT": f"http://{to_store.address}:{to_store.port}"}.items():
        monkeypatch.setitem(app.config, name, value)
    yield to_store
    to_store.close()


def test_a_worker_cut_off_past_its_lease_loses_the_job_once_and_carries_on(
        client, make_user, app, config, relay, live_api, start_worker, other_host, storage, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="werkzeug")
    broker = urlsplit(config.AMQP_URL)
    api_port = urlsplit(live_api).port
    to_broker = Forwarder(other_host.root_address, (broker.hostname, broker.port or 5672))
    to_api = Forwarder(other_host.root_address, ("127.0.0.1", api_port))
    as_file = storage is not None
    try:
        # The other host sees the forwarded services and nothing of this machine's loopback.
        assert reachable_from(other_host, to_broker.address, to_broker.port)
        assert reachable_from(other_host, to_api.address, to_api.port)
        assert not reachable_from(other_host, "127.0.0.1", broker.port or 5672)
        assert not reachable_from(other_host, "127.0.0.1", api_port)

        far_id = f"far-{uuid.uuid4().hex[:6]}"
        log_path = tmp_path / "far_worker.log"
        env = {**os.environ, "FAR_WORKER_ID": far_id, "PYTHONUNBUFFERED": "1",
               "AMQP_URL": through(config.AMQP_URL, to_broker.port, to_broker.address),
               "CONVEYOR_API_URL": f"http://{to_api.address}:{to_api.port}",
               "CONVEYOR_AMQP_HEARTBEAT_SECONDS": "2", "CONVEYOR_LOG_FORMAT": "json"}
        with open(log_path, "wb") as log:
            far = other_host.popen([sys.executable, "-m", "tests.integration.far_worker"], cwd=ROOT, env=env,
                                   stdout=log, stderr=log)
        wait_for(lambda: _registered(app, far_id), timeout=60,
                 message="the far worker's registration over its link")

        def far_log() -> list[dict]:
            return [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]

        user = make_user()
        job = _submit_work(client, user, WORK_SECONDS, as_file)
        wait_for(lambda: job_row(app, job["id"]).worker_id == far_id and
                 job_row(app, job["id"]).status == "running", timeout=60, message="the far worker running the job")
        near_calls: list[str] = []

        def near_handler(job, io):
            near_calls.append(job["id"])
            if job.get("input"):
                assert io.input_path().read_text() == f"work {WORK_SECONDS} s\n"
            return {"translated_text": "done near", "worker": "near"}

        near = start_worker(handler=near_handler)

        other_host.cut()
        cut_at = time.monotonic()
        done = wait_status(client, user, job["id"], timeout=CUT_SECONDS + 60)
        handed_over = time.monotonic() - cut_at
        assert done["status"] == "succeeded" and done["attempts"] == 2, done
        wait_for(lambda: time.monotonic() - cut_at >= CUT_SECONDS, timeout=CUT_SECONDS + 1, interval=0.2,
                 message="the end of the cut")
        other_host.restore()
        restored_at = time.monotonic()

        # The far worker ends its computation and reports: refused, as were its late heartbeats.
        wait_for(lambda: any("result refused" in line.get("message", "") for line in far_log()),
                 timeout=WORK_SECONDS + 60, interval=0.5, message="the far worker's late result being refused")
        refused_at = time.monotonic()
        refused = _refused_calls(caplog, job["id"])
        assert "succeed" in refused, refused
        assert "events" in refused, refused  # its lease heartbeats after the link returned
        result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers).json
        assert result["result"]["worker"] == "near"
        assert job_row(app, job["id"]).worker_id == near.worker_id
        assert near_calls == [job["id"]], "finished exactly once, on the near worker"
        assert far.poll() is None, "the far worker process is still running"

        # It carries on: with the near worker gone, the far one takes and finishes the next job.
        near.stop()
        wait_for(lambda: near._connection is None, timeout=20, message="the near worker stopping")
        second_at = time.monotonic()
        second = _submit_work(client, user, 0, as_file)
        finished = wait_status(client, user, second["id"], timeout=90)
        assert finished["status"] == "succeeded" and finished["attempts"] == 1
        assert client.get(f"/api/v1/jobs/{second['id']}/result",
                          headers=user.headers).json["result"]["worker"] == far_id
        if as_file:  # the far worker fetched its inputs from the store, over its link
            assert other_host.host_address in storage.peers, storage.peers
        reconnected = [line["message"] for line in far_log() if "broker connection lost" in line.get("message", "")]
        where = "S3" if as_file else "local"
        print(f"\n[other host, {where} storage] link cut {CUT_SECONDS:.0f}s; job handed over and finished on this host "
              f"{handed_over:.1f}s after the cut; far worker refused {len(refused)}x ({sorted(set(refused))}); "
              f"result refused {refused_at - restored_at:.1f}s after the link returned; next job finished on the "
              f"far worker {time.monotonic() - second_at:.1f}s after its submit; "
              f"far worker reconnections: {len(reconnected)}")
    finally:
        to_broker.close()
        to_api.close()
