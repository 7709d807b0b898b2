"""GET /metrics: counters from job state changes and gauges read at scrape time."""
from __future__ import annotations

import re

import pytest

from tests.conftest import wait_for
from tests.integration.test_pipeline import submit, wait_status

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    series = rf"{re.escape(name)}{{{re.escape(wanted)}}}" if labels else re.escape(name)
    pattern = rf"^{series} ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def scrape(client) -> str:
    reply = client.get("/metrics")
    assert reply.status_code == 200 and reply.mimetype == "text/plain"
    return reply.get_data(as_text=True)


def test_a_finished_job_moves_the_counters_and_histograms(client, make_user, relay, translate_worker):
    before = scrape(client)
    user = make_user()
    job = submit(client, user)
    assert wait_status(client, user, job["id"])["status"] == "succeeded"
    after = scrape(client)
    assert sample(after, "conveyor_jobs_submitted_total", kind="translate") == \
        sample(before, "conveyor_jobs_submitted_total", kind="translate") + 1
    assert sample(after, "conveyor_jobs_finished_total", kind="translate", status="succeeded") >= \
        sample(before, "conveyor_jobs_finished_total", kind="translate", status="succeeded") + 1
    assert sample(after, "conveyor_job_duration_seconds_count", kind="translate") >= 1
    assert sample(after, "conveyor_job_queue_wait_seconds_count", kind="translate") >= 1
    assert sample(after, "conveyor_jobs", kind="translate", status="succeeded") >= 1
    assert sample(after, "conveyor_broker_up") == 1
    heartbeat = f'conveyor_worker_last_seen_timestamp_seconds{{kind="translate",worker="{translate_worker.worker_id}"}}'
    wait_for(lambda: heartbeat in scrape(client), message="the worker's heartbeat gauge")


def test_queue_depth_counts_waiting_messages(client, make_user, relay, broker):
    broker.purge("translate")
    user = make_user()
    submit(client, user)
    wait_for(lambda: sample(scrape(client), "conveyor_queue_depth", kind="translate") >= 1,
             message="the job to wait in the queue")


def test_metrics_can_require_a_token(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-metrics-token")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}).status_code == 200


def test_multiprocess_counters_are_chosen_by_the_app_config(client, app, monkeypatch, tmp_path):
    # Config.PROMETHEUS_MULTIPROC_DIR (prometheus-client's own variable) decides, not os.environ.
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert "# HELP conveyor_jobs_submitted_total" in scrape(client)  # this process's registry
    monkeypatch.setitem(app.config, "PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    body = scrape(client)  # an empty directory: no process has counted anything yet
    assert "conveyor_jobs_submitted_total" not in body and "conveyor_broker_up" in body
