"""ETag, Last-Modified and conditional requests on file downloads, from each storage backend.

The file is a real job's input and artifact, stored on the local backend or in a real SeaweedFS; the
validators must come from the stored object (S3's own ETag, the local file's size and mtime) and
change when a worker replaces the file.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from werkzeug.http import http_date, parse_date

from shared.storage import S3Storage
from tests.integration.test_retention_quota import claim, finished_job, put_artifact, submit_text_file
from tests.integration.test_storage_s3_jobs import backend  # noqa: F401 - the local/s3 fixture

CONTENT = b"Hello world, a file long enough to take a range from.\n"


@pytest.fixture
def stored(client, make_user, config, translate_pairs_registered, backend):  # noqa: F811
    """(user, input URL, first answer) for a job whose input is CONTENT."""
    user = make_user()
    job = submit_text_file(client, user, CONTENT).json
    url = f"/api/v1/jobs/{job['id']}/input"
    first = client.get(url, headers=user.headers)
    assert first.status_code == 200 and first.data == CONTENT
    return user, url, first, job


def test_a_download_carries_a_strong_etag_of_the_stored_object(stored, backend):  # noqa: F811
    _user, _url, first, job = stored
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong: no W/
    key = f"jobs/{job['id']}/input/note.txt"
    if isinstance(backend, S3Storage):
        assert etag == backend.client.head_object(Bucket=backend.bucket, Key=key)["ETag"]
    else:
        found = (backend.root / key).stat()
        assert etag == f'"{found.st_ino:x}-{found.st_size:x}-{found.st_mtime_ns:x}"'
    assert parse_date(first.headers["Last-Modified"]) is not None
    assert first.headers["Cache-Control"] == "private, no-cache"


def test_if_none_match_and_if_modified_since_answer_304_without_a_body(client, stored):
    user, url, first, _job = stored
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    earlier = http_date(parse_date(modified) - timedelta(hours=1))

    def get(**headers):
        return client.get(url, headers={**user.headers, **headers})

    for headers in ({"If-None-Match": etag}, {"If-None-Match": f"W/{etag}"}, {"If-None-Match": f'"x", {etag}'},
                    {"If-None-Match": "*"}, {"If-Modified-Since": modified}):
        reply = get(**headers)
        assert reply.status_code == 304, headers
        assert reply.data == b"" and reply.headers["ETag"] == etag, headers
    for headers in ({"If-None-Match": '"another"'}, {"If-Modified-Since": earlier},
                    # If-None-Match decides when both are sent (RFC 9110 13.2.2)
                    {"If-None-Match": '"another"', "If-Modified-Since": modified}):
        reply = get(**headers)
        assert reply.status_code == 200 and reply.data == CONTENT, headers


def test_if_range_serves_the_range_only_for_the_same_version(client, stored):
    user, url, first, _job = stored
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    earlier = http_date(parse_date(modified) - timedelta(hours=1))

    def get(if_range):
        return client.get(url, headers={**user.headers, "Range": "bytes=6-10", "If-Range": if_range})

    for same in (etag, modified):
        reply = get(same)
        assert reply.status_code == 206 and reply.data == CONTENT[6:11], same
        assert reply.headers["Content-Range"] == f"bytes 6-10/{len(CONTENT)}"
    for other in ('"another"', f"W/{etag}", earlier):  # a weak tag never matches If-Range
        reply = get(other)
        assert reply.status_code == 200 and reply.data == CONTENT, other
        assert "Content-Range" not in reply.headers


def test_if_match_and_if_unmodified_since_refuse_another_version_with_412(client, stored):
    user, url, first, _job = stored
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    earlier = http_date(parse_date(modified) - timedelta(hours=1))

    assert client.get(url, headers={**user.headers, "If-Match": etag}).status_code == 200
    assert client.get(url, headers={**user.headers, "If-Unmodified-Since": modified}).status_code == 200
    for headers in ({"If-Match": '"another"'}, {"If-Unmodified-Since": earlier}):
        reply = client.get(url, headers={**user.headers, **headers})
        assert reply.status_code == 412 and reply.json["code"] == 412, headers


def test_a_replaced_artifact_gets_a_new_etag_and_old_validators_stop_matching(
        client, make_user, config, translate_pairs_registered, backend):  # noqa: F811
    user = make_user()
    reply = submit_text_file(client, user)
    job_id = reply.json["id"]
    claim_id = claim(client, config, job_id)
    url = f"/api/v1/jobs/{job_id}/artifacts/out.txt"
    put_artifact(client, config, job_id, claim_id, "out.txt", b"first version")
    before = client.get(url, headers=user.headers)

    put_artifact(client, config, job_id, claim_id, "out.txt", b"other version")  # same length

    after = client.get(url, headers={**user.headers, "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.data == b"other version"
    assert after.headers["ETag"] != before.headers["ETag"]
    resumed = client.get(url, headers={**user.headers, "Range": "bytes=6-", "If-Range": before.headers["ETag"]})
    assert resumed.status_code == 200 and resumed.data == b"other version"
    # Gone now, so that no lease of this test expires under another test's reaper.
    assert client.delete(f"/api/v1/jobs/{job_id}", headers=user.headers).status_code == 204


def test_the_worker_input_route_sends_the_same_validators(client, stored, config):
    user, _url, first, job = stored
    claim_id = claim(client, config, job["id"])
    worker = {"X-Worker-Token": config.WORKER_TOKEN, "X-Claim-Id": claim_id}
    reply = client.get(f"/internal/v1/jobs/{job['id']}/input",
                       headers={**worker, "If-None-Match": first.headers["ETag"]})
    assert reply.status_code == 304
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=user.headers).status_code == 204


def test_finished_jobs_artifacts_have_validators_too(client, make_user, config, translate_pairs_registered,
                                                     backend):  # noqa: F811
    user = make_user()
    done = finished_job(client, config, user)
    [artifact] = done["artifacts"]
    whole = client.get(artifact["url"], headers=user.headers)
    again = client.get(artifact["url"], headers={**user.headers, "If-None-Match": whole.headers["ETag"]})
    assert (whole.status_code, again.status_code) == (200, 304)
