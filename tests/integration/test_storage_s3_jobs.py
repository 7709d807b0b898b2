"""Jobs with their files in S3 (a real SeaweedFS), and HTTP Range on downloads from either backend.

The API under test is the session's app with its storage settings switched for one test; the
worker fetches its input and uploads its artifact through the internal API as always, so the whole
path client -> API -> SeaweedFS -> worker -> SeaweedFS -> client runs for real.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import requests

from shared.media_probe import probe
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
    assert job_keys(store, job["id"]) == sorted([f"jobs/{job['id']}/input/seek_me.mp4",
                                                 f"jobs/{job['id']}/artifacts/{artifact['name']}"])
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


@pytest.mark.parametrize("body, status", [(b"not a video at all " * 100, 400), (b"\0" * (2 * 1024 * 1024), 413)])
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
