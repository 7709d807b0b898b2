"""A full job of each file-taking kind with its files in S3 (a real SeaweedFS) and a real worker.

The local backend runs every kind in the kind's own test module; the conversion on S3 is in
test_storage_s3_jobs. Here the other kinds run on S3: the API streams the upload into the bucket,
the worker fetches it by a presigned URL and stores its artifact in the bucket, and the owner
downloads it back. Nothing of the job may land in the local storage directory.
"""
from __future__ import annotations

import io

import docx
import pytest
from PIL import Image

from shared.storage import storage_from_config
from tests.document_samples import SENTENCES, docx_bytes
from tests.integration.test_asr_jobs import asr_worker, media, offered  # noqa: F401 - real ASR worker
from tests.integration.test_asr_jobs import submit as submit_asr
from tests.integration.test_pipeline import wait_status
from tests.integration.test_retention_quota import stored_keys
from tests.integration.test_vision_jobs import capabilities, cat_jpeg, vision_worker  # noqa: F401
from tests.integration.test_vision_jobs import submit as submit_vision
from tests.media import word_error_rate

JOB_TIMEOUT = 180.0


@pytest.fixture
def s3(app, seaweedfs, monkeypatch):
    """The session's app (which the in-thread workers call) storing in SeaweedFS for this test."""
    for name, value in seaweedfs.items():
        monkeypatch.setitem(app.config, name, value)
    return storage_from_config(app.config)


def assert_only_in_s3(s3, config, job: dict, artifact_names: list[str]) -> None:
    """The job's input and each artifact are objects of the bucket, and none is a local file."""
    keys = stored_keys(s3, f"jobs/{job['id']}")
    assert any(key.startswith(f"jobs/{job['id']}/input/") for key in keys), keys
    for name in artifact_names:
        assert any(key.startswith(f"jobs/{job['id']}/artifacts/") and key.endswith(f"/{name}") for key in keys), keys
    assert list(config.STORAGE_DIR.rglob(f"jobs/{job['id']}/*")) == []


def test_a_document_is_translated_with_its_files_in_s3(client, make_user, relay, translate_worker, s3, config):
    user = make_user()
    form = {"source_lang": "en", "target_lang": "es", "file": (io.BytesIO(docx_bytes()), "report.docx")}
    reply = client.post("/api/v1/jobs/translate", headers=user.headers, data=form, content_type="multipart/form-data")
    assert reply.status_code == 202, reply.json

    done = wait_status(client, user, reply.json["id"], timeout=JOB_TIMEOUT)

    assert done["status"] == "succeeded", done["error"]
    [artifact] = done["artifacts"]
    assert_only_in_s3(s3, config, done, [artifact["name"]])
    download = client.get(artifact["url"], headers=user.headers)
    assert download.status_code == 200
    text = " ".join(p.text for p in docx.Document(io.BytesIO(download.data)).paragraphs)
    for english, spanish in SENTENCES:
        assert spanish in text and english not in text


def test_speech_is_transcribed_with_its_file_in_s3(client, make_user, relay, asr_worker, media, s3,  # noqa: F811
                                                   config):
    from tests.integration.test_asr_jobs import SPOKEN
    user = make_user()
    reply = submit_asr(client, user, media["english.mp3"], "english.mp3")
    assert reply.status_code == 202, reply.json

    done = wait_status(client, user, reply.json["id"], timeout=JOB_TIMEOUT)

    assert done["status"] == "succeeded", done["error"]
    assert_only_in_s3(s3, config, done, [a["name"] for a in done["artifacts"]])
    result = client.get(f"/api/v1/jobs/{done['id']}/result", headers=user.headers).json["result"]
    assert word_error_rate(SPOKEN, result["text"]) < 0.25, result["text"]
    # The owner can still fetch (and seek in) the original recording from the bucket.
    seek = client.get(f"/api/v1/jobs/{done['id']}/input", headers={**user.headers, "Range": "bytes=100-"})
    assert seek.status_code == 206 and seek.data == media["english.mp3"][100:]


def test_an_image_is_analysed_with_its_files_in_s3(client, make_user, relay, vision_worker, s3,  # noqa: F811
                                                   config):
    user = make_user()
    image = cat_jpeg()
    reply = submit_vision(client, user, image)
    assert reply.status_code == 202, reply.json

    done = wait_status(client, user, reply.json["id"], timeout=JOB_TIMEOUT)

    assert done["status"] == "succeeded", done["error"]
    assert_only_in_s3(s3, config, done, ["annotated.jpg"])
    result = client.get(f"/api/v1/jobs/{done['id']}/result", headers=user.headers).json["result"]
    assert any(d["label"] == "cat" for d in result["detections"]), result["detections"]
    drawn = client.get(f"/api/v1/jobs/{done['id']}/artifacts/annotated.jpg", headers=user.headers)
    assert drawn.status_code == 200
    assert Image.open(io.BytesIO(drawn.data)).size == Image.open(io.BytesIO(image)).size
