"""A real SeaweedFS S3 server for the tests: started once per session by scripts/seaweedfs.py (the same
launcher `make up` uses) on free ports in a temporary directory, stopped at the end.

``seaweedfs`` yields the settings (as in shared.config.Config) that point the storage factory at it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.seaweedfs import free_ports
from shared.storage import s3_client
from tests.conftest import wait_for

REPO = Path(__file__).resolve().parent.parent
BUCKET = "conveyor-test"
ACCESS_KEY = "conveyor-test-key"
SECRET_KEY = "conveyor-test-secret-0123456789"


def _bucket_answers(settings: dict[str, Any]) -> bool:
    client = s3_client(settings["S3_ENDPOINT"], settings["S3_REGION"], settings["S3_ACCESS_KEY"],
                       settings["S3_SECRET_KEY"])
    try:
        client.head_bucket(Bucket=settings["S3_BUCKET"])
    except Exception:  # noqa: BLE001 - not up yet
        return False
    return True


def _stop(launcher: subprocess.Popen) -> None:
    """SIGTERM to the launcher's group, then SIGKILL: weed's filer lingers 15 s on open gRPC streams."""
    for signum, grace in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
        try:
            os.killpg(launcher.pid, signum)
            launcher.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seaweedfs")
    port = free_ports(1)[0]
    settings = {"STORAGE": "s3", "S3_ENDPOINT": f"http://127.0.0.1:{port}", "S3_BUCKET": BUCKET,
                "S3_REGION": "us-east-1", "S3_ACCESS_KEY": ACCESS_KEY, "S3_SECRET_KEY": SECRET_KEY}
    env = dict(os.environ, CONVEYOR_S3_BUCKET=BUCKET, CONVEYOR_S3_ACCESS_KEY=ACCESS_KEY,
               CONVEYOR_S3_SECRET_KEY=SECRET_KEY)
    with open(folder / "weed.log", "wb") as log:
        launcher = subprocess.Popen([sys.executable, str(REPO / "scripts" / "seaweedfs.py"),
                                     str(folder / "data"), str(port)],
                                    env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    try:
        wait_for(lambda: launcher.poll() is not None or _bucket_answers(settings), timeout=60,
                 interval=0.2, message="SeaweedFS's S3 gateway and bucket")
        assert launcher.poll() is None, (folder / "weed.log").read_text()[-3000:]
        yield settings
    finally:
        _stop(launcher)
