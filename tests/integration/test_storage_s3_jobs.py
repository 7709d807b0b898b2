"""Jobs with their files in S3 (a real SeaweedFS), and HTTP Range on downloads from either backend.

The API under test is the session's app with its storage settings switched for one test; the
worker fetches its input and uploads its artifact through the internal API as always, so the whole
path client -> API -> SeaweedFS -> worker -> SeaweedFS -> client runs for real.
"""
from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from shared.db import db as handle
from shared.media_probe import probe
from shared.models import Job
from shared.storage import S3Storage, storage_from_config
from tests.integration.test_convert_jobs import convert_worker, registered_convert_worker  # noqa: F401
from tests.integration.test_pipeline import wait_status
from tests.unit.test_media_probe import TONE, make_media

CLIP_ARGS = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", *TONE, "-t", "2",
             "-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_media(tmp_path_factory.mktemp("s3-jobs") / "seek me.mp4", *CLIP_ARGS)


@pytest.fixture(params=["local", "s3"])
def backend(request, app, monkeypatch):
    """The app's storage switched to ``local`` or to the session's SeaweedFS for this test."""
    if request.param == "s3":
        for name, value in request.getfixturevalue("seaweedfs").items():
            monkeypatch.setitem(app.config, name, value)
    else:
        monkeypatch.setitem(app.config, "STORAGE", "local")
    return storage_from_config(app.config)


def submit_clip(client, user, clip: Path, **params) -> dict:
    form = {"file": (io.BytesIO(clip.read_bytes()), clip.name), "target": "webm", **params}
    reply = client.post("/api/v1/jobs/convert", headers=user.headers, data=form)
    assert reply.status_code == 202, reply.json
    return reply.json


def job_keys(store, job_id: str) -> list[str]:
    """What the backend holds for the job (object keys in S3, relative file paths locally)."""
    if isinstance(store, S3Storage):
        listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"jobs/{job_id}/")
        return sorted(item["Key"] for item in listed.get("Contents", []))
    return sorted(str(path.relative_to(store.root)) for path in (store.root / "jobs" / job_id).rglob("*")
                  if path.is_file())


def test_the_input_is_stored_in_the_configured_backend_and_deleted_with_the_job(
        client, make_user, registered_convert_worker, backend, clip, config):  # noqa: F811
    user = make_user()
    job = submit_clip(client, user, clip)

    assert job_keys(backend, job["id"]) == [f"jobs/{job['id']}/input/seek_me.mp4"]
    local_copies = list(config.STORAGE_DIR.rglob(f"jobs/{job['id']}/*"))
    assert bool(local_copies) == (not isinstance(backend, S3Storage))

    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=user.headers).status_code == 204
    assert job_keys(backend, job["id"]) == []


@pytest.mark.parametrize("header, status, span", [
    (None, 200, (0, None)),
    ("bytes=0-0", 206, (0, 1)),
    ("bytes=100-1099", 206, (100, 1100)),
    ("bytes=1000-", 206, (1000, None)),
    ("bytes=-500", 206, (-500, None)),
    ("bytes=0-99999999", 206, (0, None)),  # an end past the file is cut to the file
    ("bytes=0-9,20-29", 200, (0, None)),   # several ranges: the whole file (RFC 9110 allows it)
    ("lines=0-9", 200, (0, None)),         # a unit we do not serve: the whole file
])
def test_the_input_download_answers_range_requests(client, make_user, registered_convert_worker,  # noqa: F811
                                                   backend, clip, header, status, span):
    user = make_user()
    job = submit_clip(client, user, clip)
    data = clip.read_bytes()
    headers = {**user.headers, **({"Range": header} if header else {})}

    reply = client.get(f"/api/v1/jobs/{job['id']}/input", headers=headers)

    expected = data[span[0]:span[1]]
    assert reply.status_code == status
    assert reply.data == expected
    assert reply.headers["Accept-Ranges"] == "bytes"
    assert int(reply.headers["Content-Length"]) == len(expected)
    assert reply.headers["Content-Disposition"] == "attachment; filename=seek_me.mp4"
    if status == 206:
        first = span[0] % len(data)
        assert reply.headers["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    else:
        assert "Content-Range" not in reply.headers


@pytest.mark.parametrize("header", ["bytes=99999999-", "bytes=99999999-100000000"])
def test_a_range_outside_the_file_is_416_with_the_files_length(
        client, make_user, registered_convert_worker, backend, clip, header):  # noqa: F811
    user = make_user()
    job = submit_clip(client, user, clip)

    reply = client.get(f"/api/v1/jobs/{job['id']}/input", headers={**user.headers, "Range": header})

    assert reply.status_code == 416
    assert reply.headers["Content-Range"] == f"bytes */{clip.stat().st_size}"
    assert reply.json["code"] == 416


def test_a_conversion_runs_end_to_end_on_s3_and_its_artifact_can_be_seeked(
        client, make_user, relay, convert_worker, clip, app, seaweedfs, monkeypatch, tmp_path):  # noqa: F811
    for name, value in seaweedfs.items():
        monkeypatch.setitem(app.config, name, value)
    store = storage_from_config(app.config)
    user = make_user()

    job = submit_clip(client, user, clip)
    done = wait_status(client, user, job["id"], timeout=60)

    assert done["status"] == "succeeded", done["error"]
    [artifact] = done["artifacts"]
    # The worker put its artifact straight into the store, under its claim's own folder.
    artifact_key, input_key = job_keys(store, job["id"])  # sorted: artifacts/ before input/
    assert input_key == f"jobs/{job['id']}/input/seek_me.mp4"
    assert artifact_key.startswith(f"jobs/{job['id']}/artifacts/") and artifact_key.endswith(f"/{artifact['name']}")
    assert artifact_key.count("/") == 4
    whole = client.get(artifact["url"], headers=user.headers)
    assert whole.status_code == 200 and len(whole.data) == artifact["size"]
    copy = tmp_path / artifact["name"]
    copy.write_bytes(whole.data)
    assert probe(copy).first("video").codec_name == "vp9"
    # A player seeking to the middle asks for the rest of the file from there.
    middle = artifact["size"] // 2
    seek = client.get(artifact["url"], headers={**user.headers, "Range": f"bytes={middle}-"})
    assert seek.status_code == 206
    assert seek.headers["Content-Range"] == f"bytes {middle}-{artifact['size'] - 1}/{artifact['size']}"
    assert seek.data == whole.data[middle:]


def claim_input(client, config, job_id: str, **headers):
    """Claim the job as a worker and ask for its input with ``headers``."""
    worker = {"X-Worker-Token": config.WORKER_TOKEN}
    claim = client.post(f"/internal/v1/jobs/{job_id}/claim", headers=worker, json={"worker_id": "w-s3"}).json
    assert claim["claimed"] is True
    return client.get(f"/internal/v1/jobs/{job_id}/input",
                      headers={**worker, "X-Claim-Id": claim["claim_id"], **headers})


def test_a_worker_that_allows_it_is_sent_to_a_presigned_url_of_the_store(
        client, make_user, registered_convert_worker, backend, clip, config):  # noqa: F811
    user = make_user()
    job = submit_clip(client, user, clip)

    reply = claim_input(client, config, job["id"], **{"X-Direct-Download": "allowed"})

    if isinstance(backend, S3Storage):
        assert reply.status_code == 307
        location = reply.headers["Location"]
        assert location.startswith(f"{backend.client.meta.endpoint_url}/{backend.bucket}/jobs/{job['id']}/input/")
        # The URL alone is the capability: no worker secret, no claim, no user token.
        fetched = requests.get(location, timeout=30)
        assert fetched.status_code == 200 and fetched.content == clip.read_bytes()
        assert requests.get(location.replace("Signature=", "Signature=0"), timeout=30).status_code == 403
    else:
        assert reply.status_code == 200 and reply.data == clip.read_bytes()


def test_a_worker_that_does_not_ask_gets_the_bytes_from_the_api(
        client, make_user, registered_convert_worker, backend, clip, config):  # noqa: F811
    user = make_user()
    job = submit_clip(client, user, clip)

    reply = claim_input(client, config, job["id"])

    assert reply.status_code == 200 and reply.data == clip.read_bytes()


# Short ids: pytest puts the test id in PYTEST_CURRENT_TEST, and a 2 MB id made the environment too
# large to start any process (E2BIG) when this test was the first to start the session's SeaweedFS.
@pytest.mark.parametrize("body, status", [(b"not a video at all " * 100, 400), (b"\0" * (2 * 1024 * 1024), 413)],
                         ids=["not-media", "too-large"])
def test_a_refused_upload_leaves_nothing_in_the_store(client, make_user, registered_convert_worker,  # noqa: F811
                                                     backend, body, status):
    user = make_user()
    before = {job["id"] for job in client.get("/api/v1/jobs", headers=user.headers).json["items"]}

    reply = client.post("/api/v1/jobs/convert", headers=user.headers,
                        data={"file": (io.BytesIO(body), "fake.mp4"), "target": "webm"})

    assert reply.status_code == status, reply.json
    assert client.get("/api/v1/jobs", headers=user.headers).json["items"] == [] and not before
    if isinstance(backend, S3Storage):
        assert backend.client.list_multipart_uploads(Bucket=backend.bucket).get("Uploads", []) == []
        listed = backend.client.list_objects_v2(Bucket=backend.bucket, Prefix="jobs/")
        assert not [item["Key"] for item in listed.get("Contents", []) if item["Key"].endswith("/fake.mp4")]
    else:
        assert not list(backend.root.rglob("fake.mp4"))


def claimed_job(client, make_user, clip, config) -> tuple[dict, dict, dict]:
    """A submitted job, claimed by a worker: (user, job, worker headers with the claim)."""
    user = make_user()
    job = submit_clip(client, user, clip)
    worker = {"X-Worker-Token": config.WORKER_TOKEN}
    claim = client.post(f"/internal/v1/jobs/{job['id']}/claim", headers=worker, json={"worker_id": "w-up"}).json
    return user, job, {**worker, "claim_id": claim["claim_id"]}


def direct(client, job, worker, name, step, **body):
    headers = {"X-Worker-Token": worker["X-Worker-Token"]}
    return client.post(f"/internal/v1/jobs/{job['id']}/artifacts/{name}/direct{step}", headers=headers,
                       json={"claim_id": worker["claim_id"], **body})


def test_a_worker_puts_its_artifact_straight_into_s3_and_the_owner_downloads_it(
        client, make_user, registered_convert_worker, app, seaweedfs, monkeypatch, clip, config):  # noqa: F811
    for name, value in seaweedfs.items():
        monkeypatch.setitem(app.config, name, value)
    user, job, worker = claimed_job(client, make_user, clip, config)
    data = b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n" * 50

    url = direct(client, job, worker, "out.vtt", "", size=len(data)).json["url"]
    assert requests.put(url, data=data, timeout=30).status_code == 200  # no worker secret needed
    done = direct(client, job, worker, "out.vtt", "/done", content_type="text/vtt")

    assert done.status_code == 201 and done.json["size"] == len(data)
    [artifact] = client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).json["artifacts"]
    assert (artifact["name"], artifact["size"], artifact["content_type"]) == ("out.vtt", len(data), "text/vtt")
    part = client.get(artifact["url"], headers={**user.headers, "Range": "bytes=7-"})
    assert part.status_code == 206 and part.data == data[7:]


def test_a_direct_upload_that_never_arrived_or_is_too_big_is_refused(
        client, make_user, registered_convert_worker, app, seaweedfs, monkeypatch, clip, config):  # noqa: F811
    for name, value in seaweedfs.items():
        monkeypatch.setitem(app.config, name, value)
    user, job, worker = claimed_job(client, make_user, clip, config)
    limit = config.MAX_UPLOAD_BYTES * 4

    assert direct(client, job, worker, "big.bin", "", size=limit + 1).status_code == 413
    assert direct(client, job, worker, "none.bin", "/done").status_code == 409
    # The URL cannot bound the size, so the API checks what arrived and removes an oversized object.
    url = direct(client, job, worker, "big.bin", "", size=10).json["url"]
    assert requests.put(url, data=b"\0" * (limit + 1), timeout=60).status_code == 200
    assert direct(client, job, worker, "big.bin", "/done").status_code == 413
    store = storage_from_config(app.config)
    assert [key for key in job_keys(store, job["id"]) if "/artifacts/" in key] == []
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).json["artifacts"] == []


def expire_lease(app, job_id: str) -> None:
    with app.app_context():
        row = handle.session.get(Job, uuid.UUID(job_id))
        row.lease_expires_at = row.lease_expires_at - timedelta(days=1)
        handle.session.commit()
        handle.session.remove()


def test_a_worker_that_lost_its_claim_cannot_replace_the_current_artifact(
        client, make_user, registered_convert_worker, app, seaweedfs, monkeypatch, clip, config):  # noqa: F811
    for name, value in seaweedfs.items():
        monkeypatch.setitem(app.config, name, value)
    user, job, stale = claimed_job(client, make_user, clip, config)
    stale_url = direct(client, job, stale, "out.txt", "", size=5).json["url"]
    expire_lease(app, job["id"])  # the stale worker went quiet: another one takes the job over
    fresh_claim = client.post(f"/internal/v1/jobs/{job['id']}/claim", headers={"X-Worker-Token": config.WORKER_TOKEN},
                              json={"worker_id": "w-new"}).json
    assert fresh_claim["claimed"] is True, fresh_claim
    fresh = {"X-Worker-Token": config.WORKER_TOKEN, "claim_id": fresh_claim["claim_id"]}
    fresh_url = direct(client, job, fresh, "out.txt", "", size=5).json["url"]
    assert requests.put(fresh_url, data=b"fresh", timeout=30).status_code == 200
    assert direct(client, job, fresh, "out.txt", "/done").status_code == 201

    # The cut-off worker's URL still works at the store, but lands beside, not over, the current file.
    assert requests.put(stale_url, data=b"stale", timeout=30).status_code == 200
    assert direct(client, job, stale, "out.txt", "/done").status_code == 409
    [artifact] = client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).json["artifacts"]
    assert client.get(artifact["url"], headers=user.headers).data == b"fresh"


def test_the_local_backend_hands_out_no_upload_url(client, make_user, registered_convert_worker,  # noqa: F811
                                                   app, monkeypatch, clip, config):
    monkeypatch.setitem(app.config, "STORAGE", "local")
    _user, job, worker = claimed_job(client, make_user, clip, config)

    reply = direct(client, job, worker, "out.txt", "", size=5)

    assert reply.status_code == 200 and reply.json["url"] is None


@pytest.mark.usefixtures("translate_pairs_registered")
def test_a_document_to_translate_is_accepted_on_either_backend(client, make_user, backend):
    """The submit checks the document where it was stored; on S3 that is a downloaded copy, which once
    had a random name, so every document was refused as of unknown format."""
    user = make_user()
    reply = client.post("/api/v1/jobs/translate", headers=user.headers, data={
        "file": (io.BytesIO(b"The cat is black.\n"), "note.txt"), "source_lang": "en", "target_lang": "es"})
    assert reply.status_code == 202, reply.json
    assert job_keys(backend, reply.json["id"]) == [f"jobs/{reply.json['id']}/input/note.txt"]
