"""Retention (jobs and their files expire; the relay's sweeper deletes them) and the per-user storage quota.

Both run against the real PostgreSQL and, where a file is involved, against each storage backend: the
local directory and a real SeaweedFS (``backend`` switches the session's app). Jobs are finished through
the internal worker API as a worker would (claim, PUT an artifact, succeed), so the files are the ones
the product stores. Days pass by the test clock (tests/clock.py) patched into the sweeper.
"""
from __future__ import annotations

import io
import json
import threading
import uuid
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import text

from services.relay import sweeper
from shared.db import db as handle
from shared.models import Artifact, Job
from shared.storage import S3Storage
from tests.clock import HandClock
from tests.conftest import wait_for
from tests.integration.test_convert_jobs import registered_convert_worker  # noqa: F401 - convert steps
from tests.integration.test_storage_s3_jobs import backend  # noqa: F401 - the local/s3 fixture

DAY = 24 * 3600.0


def stored_keys(store, prefix: str) -> list[str]:
    """Every key the backend holds under ``prefix`` (object keys in S3, relative paths locally)."""
    if isinstance(store, S3Storage):
        listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"{prefix}/")
        return sorted(item["Key"] for item in listed.get("Contents", []))
    return sorted(str(path.relative_to(store.root)) for path in (store.root / prefix).rglob("*") if path.is_file())


def submit_text_file(client, user, content: bytes = b"Hello world.\n", name: str = "note.txt"):
    data = {"source_lang": "en", "target_lang": "es", "file": (io.BytesIO(content), name)}
    return client.post("/api/v1/jobs/translate", headers=user.headers, data=data, content_type="multipart/form-data")


def worker_call(client, config, method: str, path: str, **kwargs):
    headers = {"X-Worker-Token": config.WORKER_TOKEN, **kwargs.pop("headers", {})}
    return client.open(f"/internal/v1{path}", method=method, headers=headers, **kwargs)


def claim(client, config, job_id: str) -> str:
    reply = worker_call(client, config, "POST", f"/jobs/{job_id}/claim", json={"worker_id": "w-retention"})
    assert reply.json["claimed"] is True, reply.json
    return reply.json["claim_id"]


def put_artifact(client, config, job_id: str, claim_id: str, name: str, data: bytes) -> None:
    reply = worker_call(client, config, "PUT", f"/jobs/{job_id}/artifacts/{name}", data=data,
                        headers={"X-Claim-Id": claim_id, "Content-Type": "text/plain"})
    assert reply.status_code == 201, reply.json


def finished_job(client, config, user, content: bytes = b"Hello world.\n", artifact: bytes = b"Hola mundo.\n"):
    """A translate job with an input file, finished as a worker finishes it: claim, artifact, succeed."""
    reply = submit_text_file(client, user, content)
    assert reply.status_code == 202, reply.json
    job_id = reply.json["id"]
    claim_id = claim(client, config, job_id)
    put_artifact(client, config, job_id, claim_id, "note.txt", artifact)
    done = worker_call(client, config, "POST", f"/jobs/{job_id}/succeed",
                       json={"claim_id": claim_id, "result": {"translated_text": "Hola mundo."}})
    assert done.json["status"] == "succeeded"
    return client.get(f"/api/v1/jobs/{job_id}", headers=user.headers).json


def running_job(client, config, user) -> dict:
    reply = submit_text_file(client, user)
    assert reply.status_code == 202, reply.json
    claim(client, config, reply.json["id"])
    return reply.json


def png_bytes() -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.linear_gradient("L").resize((40, 30)).save(out, "PNG")
    return out.getvalue()


def convert_steps(count: int = 1) -> str:
    """Steps converting the upload to JPEG (the ``steps`` field of a multipart pipeline submit)."""
    return json.dumps([{"name": f"img{n}", "kind": "convert", "input": "upload", "options": {"target": "jpg"}}
                       for n in range(count)])


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


@pytest.fixture
def hand_clock(monkeypatch) -> HandClock:
    """The sweeper's clock, moved by the test."""
    clock = HandClock()
    monkeypatch.setattr(sweeper, "utcnow", clock)
    return clock


def sweep(app, store) -> int:
    with app.app_context():
        return sweeper.sweep(store, app.config["RETENTION_DAYS"])


def job_row_exists(app, job_id: str) -> bool:
    with app.app_context():
        found = handle.session.get(Job, uuid.UUID(job_id)) is not None
        handle.session.remove()
        return found


# --- retention -------------------------------------------------------------------------------------------


def test_a_job_shows_when_it_expires_once_it_has_ended(client, make_user, app, config, translate_pairs_registered):
    user = make_user()
    queued = submit_text_file(client, user).json
    assert queued["expires_at"] is None  # kept while it waits or runs, whatever its age

    done = finished_job(client, config, user)

    days = app.config["RETENTION_DAYS"]
    assert days > 0
    assert parse(done["expires_at"]) == parse(done["finished_at"]) + timedelta(days=days)
    listed = client.get("/api/v1/jobs", headers=user.headers).json["items"]
    assert {item["id"]: item["expires_at"] for item in listed}[done["id"]] == done["expires_at"]


def test_with_retention_off_nothing_expires_or_is_swept(client, make_user, app, config, monkeypatch, hand_clock,
                                                       translate_pairs_registered, backend):  # noqa: F811
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 0)
    user = make_user()
    done = finished_job(client, config, user)
    assert done["expires_at"] is None

    hand_clock.advance(10_000 * DAY)

    assert sweep(app, backend) == 0
    assert job_row_exists(app, done["id"])
    assert len(stored_keys(backend, f"jobs/{done['id']}")) == 2


def test_the_sweeper_deletes_an_expired_job_with_its_files_but_never_a_running_one(
        client, make_user, app, config, hand_clock, translate_pairs_registered, backend):  # noqa: F811
    user = make_user()
    done = finished_job(client, config, user)
    running = running_job(client, config, user)
    queued = submit_text_file(client, user).json
    assert stored_keys(backend, f"jobs/{done['id']}") == [f"jobs/{done['id']}/artifacts/note.txt",
                                                          f"jobs/{done['id']}/input/note.txt"]

    hand_clock.advance(app.config["RETENTION_DAYS"] * DAY - 60)
    sweep(app, backend)
    assert job_row_exists(app, done["id"])  # a minute before it expires: still there
    assert client.get(f"/api/v1/jobs/{done['id']}/artifacts/note.txt", headers=user.headers).data == b"Hola mundo.\n"

    hand_clock.advance(120)
    assert sweep(app, backend) >= 1

    assert not job_row_exists(app, done["id"])
    assert stored_keys(backend, f"jobs/{done['id']}") == []
    assert client.get(f"/api/v1/jobs/{done['id']}", headers=user.headers).status_code == 404
    for alive in (running, queued):  # as old, but not ended: rows and files stay
        assert job_row_exists(app, alive["id"])
        assert stored_keys(backend, f"jobs/{alive['id']}") == [f"jobs/{alive['id']}/input/note.txt"]
        # Gone now, so that no lease of this test expires under another test's reaper.
        assert client.delete(f"/api/v1/jobs/{alive['id']}", headers=user.headers).status_code == 204


def test_the_relays_sweeper_thread_sweeps_on_its_own_and_stops_when_asked(
        client, make_user, app, config, monkeypatch, hand_clock, translate_pairs_registered, backend):  # noqa: F811
    """The loop the relay process runs (services.relay.__main__ starts it beside the outbox relay)."""
    monkeypatch.setitem(app.config, "SWEEP_SECONDS", 0.2)
    user = make_user()
    done = finished_job(client, config, user)
    stop = threading.Event()
    thread = threading.Thread(target=sweeper.Sweeper(app, backend).run, args=(stop,), daemon=True)
    thread.start()
    try:
        hand_clock.advance(app.config["RETENTION_DAYS"] * DAY + 60)
        wait_for(lambda: not job_row_exists(app, done["id"]), timeout=20, message="the sweeper to delete the job")
        assert stored_keys(backend, f"jobs/{done['id']}") == []
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_with_retention_off_the_sweeper_thread_ends_at_once(app, monkeypatch, backend):  # noqa: F811
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 0)
    thread = threading.Thread(target=sweeper.Sweeper(app, backend).run, args=(threading.Event(),), daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()


def test_two_sweepers_at_once_delete_each_expired_job_once(client, make_user, app, config, hand_clock,
                                                           translate_pairs_registered, backend):  # noqa: F811
    user = make_user()
    expired = [finished_job(client, config, user)["id"] for _ in range(6)]
    hand_clock.advance(app.config["RETENTION_DAYS"] * DAY + 60)
    counts, errors = [], []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            with app.app_context():
                before = sweeper.cutoff(hand_clock(), app.config["RETENTION_DAYS"])
                total = 0
                while (count := sweeper.sweep_jobs(backend, before, limit=2)):
                    total += count
                counts.append(total)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(counts) >= len(expired)  # together they swept ours (and any other test's leftovers) once
    for job_id in expired:
        assert not job_row_exists(app, job_id)
        assert stored_keys(backend, f"jobs/{job_id}") == []


def test_deleting_a_job_deletes_its_input_and_artifacts(client, make_user, config, translate_pairs_registered,
                                                        backend):  # noqa: F811
    user = make_user()
    done = finished_job(client, config, user)
    assert len(stored_keys(backend, f"jobs/{done['id']}")) == 2

    assert client.delete(f"/api/v1/jobs/{done['id']}", headers=user.headers).status_code == 204

    assert stored_keys(backend, f"jobs/{done['id']}") == []


def test_an_expired_pipeline_goes_with_its_steps_jobs_and_files(client, make_user, app, config, hand_clock,
                                                                registered_convert_worker, backend):  # noqa: F811
    user = make_user()
    body = {"steps": convert_steps(), "file": (io.BytesIO(png_bytes()), "note.png")}
    submitted = client.post("/api/v1/pipelines", headers=user.headers, data=body, content_type="multipart/form-data")
    assert submitted.status_code == 202, submitted.json
    pipeline = submitted.json
    assert pipeline["expires_at"] is None
    [step] = pipeline["steps"]
    step_job = str(step["job_id"])
    claim_id = claim(client, config, step_job)
    put_artifact(client, config, step_job, claim_id, "note.jpg", b"not really a jpeg")
    worker_call(client, config, "POST", f"/jobs/{step_job}/succeed", json={"claim_id": claim_id, "result": {}})
    ended = client.get(f"/api/v1/pipelines/{pipeline['id']}", headers=user.headers).json
    assert ended["status"] == "succeeded"
    expires = parse(ended["expires_at"])
    assert expires == parse(ended["finished_at"]) + timedelta(days=app.config["RETENTION_DAYS"])
    # The step's job expires with its pipeline, not on its own.
    assert parse(client.get(f"/api/v1/jobs/{step_job}", headers=user.headers).json["expires_at"]) == expires
    assert stored_keys(backend, f"pipelines/{pipeline['id']}") == [f"pipelines/{pipeline['id']}/input/note.png"]
    assert stored_keys(backend, f"jobs/{step_job}") != []

    hand_clock.advance(app.config["RETENTION_DAYS"] * DAY + 60)
    assert sweep(app, backend) >= 1

    assert client.get(f"/api/v1/pipelines/{pipeline['id']}", headers=user.headers).status_code == 404
    assert not job_row_exists(app, step_job)
    assert stored_keys(backend, f"pipelines/{pipeline['id']}") == []
    assert stored_keys(backend, f"jobs/{step_job}") == []


# --- quota -----------------------------------------------------------------------------------------------


@pytest.fixture
def quota(app, monkeypatch):
    """Set the per-user quota (bytes) for one test."""
    def set_quota(size: int) -> None:
        monkeypatch.setitem(app.config, "USER_QUOTA_BYTES", size)
    return set_quota


def test_uploads_past_the_quota_are_refused_and_usage_shows_used_and_limit(
        client, make_user, config, quota, translate_pairs_registered, backend):  # noqa: F811
    quota(1000)
    user = make_user()
    first = submit_text_file(client, user, b"a" * 400)
    assert first.status_code == 202, first.json
    usage = client.get("/api/v1/usage", headers=user.headers).json
    assert usage["storage"]["used_bytes"] == 400 and usage["storage"]["limit_bytes"] == 1000
    assert usage["jobs"]["active"] == 1

    over = submit_text_file(client, user, b"b" * 700)  # fits alone, not beside the first
    assert over.status_code == 429
    assert "Storage quota exceeded" in over.json["message"] and "Delete jobs" in over.json["message"]
    too_big = submit_text_file(client, user, b"c" * 1001)  # can never fit
    assert too_big.status_code == 413
    assert "larger than your whole storage quota" in too_big.json["message"]
    # Neither refused upload left a file or a row behind.
    assert client.get("/api/v1/usage", headers=user.headers).json["storage"]["used_bytes"] == 400
    assert client.get("/api/v1/jobs", headers=user.headers).json["total"] == 1

    assert submit_text_file(client, user, b"d" * 600).status_code == 202  # exactly up to the quota


def test_artifacts_count_against_the_quota_and_deleting_frees_it(client, make_user, config, quota,
                                                                 translate_pairs_registered, backend):  # noqa: F811
    quota(100)
    user = make_user()
    done = finished_job(client, config, user, content=b"x" * 30, artifact=b"y" * 50)
    assert client.get("/api/v1/usage", headers=user.headers).json["storage"]["used_bytes"] == 80

    assert submit_text_file(client, user, b"z" * 30).status_code == 429

    assert client.delete(f"/api/v1/jobs/{done['id']}", headers=user.headers).status_code == 204
    assert client.get("/api/v1/usage", headers=user.headers).json["storage"]["used_bytes"] == 0
    assert submit_text_file(client, user, b"z" * 30).status_code == 202


def test_the_quota_counts_a_pipeline_upload_once(client, make_user, config, quota,
                                                 registered_convert_worker):  # noqa: F811
    picture = png_bytes()
    quota(len(picture) * 3 // 2)
    user = make_user()
    body = {"steps": convert_steps(2), "file": (io.BytesIO(picture), "note.png")}
    reply = client.post("/api/v1/pipelines", headers=user.headers, data=body, content_type="multipart/form-data")
    assert reply.status_code == 202, reply.json
    # Two steps read the upload; it is stored, and counted, once.
    assert client.get("/api/v1/usage", headers=user.headers).json["storage"]["used_bytes"] == len(picture)

    again = {"steps": convert_steps(2), "file": (io.BytesIO(picture), "note.png")}
    refused = client.post("/api/v1/pipelines", headers=user.headers, data=again, content_type="multipart/form-data")
    assert refused.status_code == 429 and "Storage quota exceeded" in refused.json["message"]


def test_concurrent_uploads_cannot_slip_past_the_quota_together(live_api, make_user, app, quota,
                                                                translate_pairs_registered):
    quota(1000)
    app.config["MAX_ACTIVE_JOBS"], old_limit = 100, app.config["MAX_ACTIVE_JOBS"]
    user = make_user()
    statuses: list[int] = []
    start = threading.Barrier(8)

    def upload():
        start.wait()
        files = {"file": ("note.txt", b"q" * 300)}
        reply = requests.post(f"{live_api}/api/v1/jobs/translate", headers=user.headers, files=files,
                              data={"source_lang": "en", "target_lang": "es"}, timeout=60)
        statuses.append(reply.status_code)

    try:
        threads = [threading.Thread(target=upload) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        app.config["MAX_ACTIVE_JOBS"] = old_limit

    assert sorted(statuses) == [202] * 3 + [429] * 5  # 3 x 300 fit in 1000, a fourth does not
    used = requests.get(f"{live_api}/api/v1/usage", headers=user.headers, timeout=10).json()["storage"]
    assert used == {"used_bytes": 900, "limit_bytes": 1000, "retention_days": app.config["RETENTION_DAYS"]}


def counted_from_rows(app, user_id: int) -> tuple[int, int]:
    """(users.stored_bytes, the same sum recounted from the rows) for one user."""
    recount = text("""
        SELECT stored_bytes,
               (SELECT coalesce(sum(input_size), 0) FROM jobs WHERE user_id = :u AND pipeline_id IS NULL)
             + (SELECT coalesce(sum(input_size), 0) FROM pipelines WHERE user_id = :u)
             + (SELECT coalesce(sum(a.size), 0) FROM artifacts a JOIN jobs j ON j.id = a.job_id WHERE j.user_id = :u)
        FROM users WHERE id = :u""")
    with app.app_context():
        counter, rows = handle.session.execute(recount, {"u": user_id}).one()
        handle.session.remove()
    return counter, rows


def test_the_stored_bytes_counter_follows_every_change_of_the_rows(
        client, make_user, app, config, hand_clock, registered_convert_worker,  # noqa: F811
        translate_pairs_registered):
    """users.stored_bytes is kept by triggers: submit, artifact added and replaced, job deleted, pipeline
    swept (its steps' jobs and their artifacts go by cascade), account deleted."""
    user = make_user()
    checks = []

    def check(expected: int) -> None:
        counter, rows = counted_from_rows(app, user.id)
        checks.append((counter, rows, expected))
        assert counter == rows == expected

    kept = finished_job(client, config, user, content=b"k" * 11, artifact=b"a" * 7)
    check(18)
    job = submit_text_file(client, user, b"j" * 100).json
    claim_id = claim(client, config, job["id"])
    put_artifact(client, config, job["id"], claim_id, "out.txt", b"1" * 40)
    check(158)
    put_artifact(client, config, job["id"], claim_id, "out.txt", b"2" * 25)  # replaced: 40 -> 25
    check(143)
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=user.headers).status_code == 204
    check(18)

    picture = png_bytes()
    body = {"steps": convert_steps(2), "file": (io.BytesIO(picture), "note.png")}
    pipeline = client.post("/api/v1/pipelines", headers=user.headers, data=body,
                           content_type="multipart/form-data").json
    check(18 + len(picture))  # two steps read the upload: counted once
    for step in pipeline["steps"]:
        step_claim = claim(client, config, str(step["job_id"]))
        put_artifact(client, config, str(step["job_id"]), step_claim, "note.jpg", b"j" * 9)
        worker_call(client, config, "POST", f"/jobs/{step['job_id']}/succeed",
                    json={"claim_id": step_claim, "result": {}})
    check(18 + len(picture) + 18)
    hand_clock.advance(app.config["RETENTION_DAYS"] * DAY + 60)
    with app.app_context():
        assert sweeper.sweep_pipelines(sweeper.storage_from_config(app.config),
                                       sweeper.cutoff(hand_clock(), app.config["RETENTION_DAYS"])) >= 1
    check(0 if not job_row_exists(app, kept["id"]) else 18)


def test_usage_without_a_quota_has_no_limit(client, make_user, quota):
    quota(0)
    user = make_user()
    usage = client.get("/api/v1/usage", headers=user.headers).json
    assert usage["storage"]["used_bytes"] == 0 and usage["storage"]["limit_bytes"] is None
    assert client.get("/api/v1/usage").status_code == 401


def test_usage_counts_artifacts_of_rows_only_of_the_user(app, make_user, client, config, translate_pairs_registered):
    """Another user's files never count towards mine."""
    mine, theirs = make_user(), make_user()
    finished_job(client, config, theirs, content=b"t" * 70, artifact=b"u" * 20)
    finished_job(client, config, mine, content=b"m" * 10, artifact=b"n" * 5)
    with app.app_context():
        sizes = handle.session.query(Artifact.size).join(Job).filter(Job.user_id == mine.id).all()
        assert [size for (size,) in sizes] == [5]
        handle.session.remove()
    assert client.get("/api/v1/usage", headers=mine.headers).json["storage"]["used_bytes"] == 15
    assert client.get("/api/v1/usage", headers=theirs.headers).json["storage"]["used_bytes"] == 90
