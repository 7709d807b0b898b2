"""Conversion through the whole platform vs the bare ffmpeg command, side by side in one run.

A 30 s 720p clip (mpeg4 + mp3, so nothing can be copied) is submitted to the API under gunicorn,
relayed through RabbitMQ to a `python -m services.convert_worker` process, converted, uploaded
back as an artifact; the figure is submit → the job's event stream ends with ``succeeded`` (the
upload of the clip included), then the artifact download on its own. The baseline is the bare ffmpeg
command with the arguments that process() builds, run in the same loop.

Run from the repo root: python -m bench.bench_convert_platform [--seconds 30] [--repeats 2]
[--targets mp4 webm]. Needs PostgreSQL and RabbitMQ; uses its own database and queue prefix.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
import requests

from bench.bench_convert import bare_run, render, report, timed
from bench.bench_platform import api_under_gunicorn, follow_to_end, process, wait_http
from shared.config import DEV_AMQP_URL
from tests.broker_tools import BrokerTools

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "conveyor_bench_convert"
ADMIN_DSN = "postgresql://conveyor:conveyor@127.0.0.1:5432/postgres"


def wait_for_worker(timeout: float = 60.0) -> None:
    """Until the convert worker has registered its capabilities (submits answer 503 before)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(f"postgresql://conveyor:conveyor@127.0.0.1:5432/{BENCH_DB}",
                         autocommit=True) as conn:
        while not conn.execute("SELECT count(*) FROM workers WHERE kind = 'convert'").fetchone()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError("the convert worker did not register")
            time.sleep(0.2)


def platform_run(session: requests.Session, api: str, source: Path, target: str) -> dict:
    """Submit the clip and follow its event stream to the end; return the finished job's view."""
    with open(source, "rb") as handle:
        reply = session.post(f"{api}/api/v1/jobs/convert", data={"target": target},
                             files={"file": (source.name, handle, "video/x-msvideo")})
    reply.raise_for_status()
    # The server-sent events are what a client waits on; polling the job view in a tight loop
    # would load the API (and the CPUs ffmpeg needs) more than any real client does.
    return follow_to_end(session, api, reply.json()["id"])


def main() -> None:
    """Print wall times and ratios; no assertions (speed claims live here, not in tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--targets", nargs="+", default=["mp4"])
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-convert-"))
    env, token, api, gunicorn = api_under_gunicorn(workdir, BENCH_DB)
    broker = BrokerTools(env.get("AMQP_URL", DEV_AMQP_URL), env["CONVEYOR_AMQP_PREFIX"])
    print(f"rendering a {args.seconds:g} s 1280x720 30 fps clip ...", flush=True)
    source = render(workdir / "clip.avi", args.seconds, "-c:v", "mpeg4", "-q:v", "3",
                    "-c:a", "libmp3lame")
    print(f"clip: {source.stat().st_size / 1e6:.1f} MB")
    try:
        with ExitStack() as stack:
            stack.enter_context(process(gunicorn, env, workdir / "api.log"))
            stack.enter_context(process([sys.executable, "-m", "services.relay"], env,
                                        workdir / "relay.log"))
            stack.enter_context(process([sys.executable, "-m", "services.convert_worker"], env,
                                        workdir / "worker.log"))
            wait_http(f"{api}/healthz")
            wait_for_worker()
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            print(f"{'case':<34}{'median s':>10}{'min s':>10}{'ratio (median)':>17}")
            for target in args.targets:
                bare, platform, download = [], [], []
                for _ in range(args.repeats):  # interleaved, so drifting machine load hits both
                    bare.append(timed(lambda target=target: bare_run(source, workdir, {"target": target})))
                    started = time.perf_counter()
                    job = platform_run(session, api, source, target)
                    platform.append(time.perf_counter() - started)
                    url = f"{api}{job['artifacts'][0]['url']}"
                    download.append(timed(lambda url=url: session.get(url).raise_for_status()))
                base = statistics.median(bare)
                report(f"{target}: bare ffmpeg", bare, base)
                report(f"{target}: submit -> succeeded", platform, base)
                report(f"{target}: artifact download", download, base)
            print("ratios are against the bare ffmpeg row of each group (lower is faster)")
    finally:
        broker.delete_everything()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
