"""Platform overhead, each figure beside its baseline from the same run (issue: core platform).

1. Job submit requests/s of the API under gunicorn vs a bare Flask JSON endpoint under the same
   gunicorn settings (wrk, same concurrency, same body); the outbox relay runs meanwhile.
2. End-to-end latency of a one-word translation job (submit → status succeeded seen by the client)
   vs the bare `apertium -u eng-spa` call on the same word.
3. 1,000 short texts submitted at once until the last result, vs the same texts through one warm
   Apertium pipeline (the worker's own ApertiumTranslator) one by one.
4. Event-stream push: the time from a worker's success report (the start of its POST .../succeed)
   to the client's ``status: succeeded`` event on a connected stream (goal: 10 ms).
5. Resident memory of each kind of process (API gunicorn master and workers, relay, translate worker).

Run: python -m bench.bench_platform [--seconds 10] [--jobs 60] [--texts 1000] [--json FILE]. Needs PostgreSQL,
RabbitMQ, Apertium and wrk (make bench installs them). Uses its own database (conveyor_bench) and queue
prefix. ``--json`` also writes the figures to FILE (bench/run.py sets them beside the Celery peer's).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pika
import psycopg
import requests

from services.translate_worker.apertium import ApertiumTranslator
from shared.config import DEV_AMQP_URL, DEV_WORKER_TOKEN
from shared.internal_api import InternalApi
from shared.messaging import queue_name

ROOT = Path(__file__).resolve().parent.parent
WORD = "house"
BENCH_DB = "conveyor_bench"
BENCH_DSN = f"postgresql://conveyor:conveyor@127.0.0.1:5432/{BENCH_DB}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path):
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def bench_env(workdir: Path, database: str = BENCH_DB) -> dict[str, str]:
    """The environment of a bench's processes: its own database, queue prefix and data folder."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"postgresql+psycopg://conveyor:conveyor@127.0.0.1:5432/{database}",
        "CONVEYOR_AMQP_PREFIX": f"cbench{os.getpid()}",
        "CONVEYOR_DATA_DIR": str(workdir),
        "CONVEYOR_MAX_ACTIVE_JOBS": "1000000",
        "CONVEYOR_LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESSLOG": "",  # no access log
        "PYTHONUNBUFFERED": "1",
    })
    return env


def reset_database(env: dict[str, str], database: str = BENCH_DB) -> None:
    """A fresh database for a bench (named as in ``bench_env``), built by the project's migrations."""
    with psycopg.connect("postgresql://conveyor:conveyor@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    subprocess.run([sys.executable, "-m", "services.ops", "init"], cwd=ROOT, env=env, check=True,
                   capture_output=True)


def api_under_gunicorn(workdir: Path, database: str) -> tuple[dict[str, str], str, str, list[str]]:
    """A bench's environment on a fresh database, one user's token, the API's URL and its gunicorn command."""
    env = bench_env(workdir, database)
    reset_database(env, database)
    token = tokens_for_bench_users(env, 1)[0]
    port = free_port()
    env["CONVEYOR_API_URL"] = api = f"http://127.0.0.1:{port}"
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
                "--bind", f"127.0.0.1:{port}", "services.api:create_app()"]
    return env, token, api, gunicorn


def tokens_for_bench_users(env: dict[str, str], count: int) -> list[str]:
    """Register users and log them in, through the auth app in this process."""
    os.environ.update(env)
    from services.auth import create_app
    client = create_app().test_client()
    tokens = []
    for number in range(count):
        body = {"username": f"bench{number}", "email": f"bench{number}@example.com", "password": "Quick-brown-2026"}
        client.post("/auth/v1/register", json=body)
        tokens.append(client.post("/auth/v1/login", json=body).json["access_token"])
    return tokens


def wrk(url: str, body: str, headers: dict[str, str], seconds: int, workdir: Path,
        tokens: list[str] = ()) -> dict[str, float]:
    """Run wrk with POSTs of ``body``; with ``tokens``, each request is one of those users' in turn."""
    script = workdir / "post.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = [[{body}]]"]
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    if tokens:
        lines += ["tokens = {" + ", ".join(f'"{t}"' for t in tokens) + "}", "counter = 0",
                  "request = function()", "  counter = counter + 1",
                  '  wrk.headers["Authorization"] = "Bearer " .. tokens[counter % #tokens + 1]',
                  "  return wrk.format()", "end"]
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": float(p50.group(1)) * scale[p50.group(2)],
            "errors": int(errors.group(1)) if errors else 0}


def register_translate_pairs(database: str = BENCH_DB) -> None:
    """Record the installed pairs as a translate worker would (the API checks submits against them)."""
    from services.translate_worker.apertium import ApertiumTranslator
    pairs = json.dumps({"pairs": ApertiumTranslator().supported_pairs()})
    with psycopg.connect(f"postgresql://conveyor:conveyor@127.0.0.1:5432/{database}") as conn:
        conn.execute("INSERT INTO workers (id, kind, capabilities) VALUES ('bench-registration', 'translate', %s)",
                     (pairs,))


def wait_for_relay() -> None:
    """Wait until the relay has published every outbox row, so the next phase starts idle."""
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]:
            time.sleep(0.5)


def drop_submitted_jobs(env: dict[str, str]) -> None:
    """Cancel the throughput phase's jobs and empty the queue, so the latency phase starts idle."""
    with psycopg.connect(BENCH_DSN) as conn:
        conn.execute("UPDATE jobs SET status = 'cancelled' WHERE status IN ('queued', 'retrying')")
    wait_for_relay()
    connection = pika.BlockingConnection(pika.URLParameters(env.get("AMQP_URL", DEV_AMQP_URL)))
    connection.channel().queue_purge(queue_name(env["CONVEYOR_AMQP_PREFIX"], "translate"))
    connection.close()


def wait_for_worker(api: str) -> None:
    deadline = time.monotonic() + 60
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        while not conn.execute("SELECT count(*) FROM workers WHERE id <> 'bench-registration'").fetchone()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError("the translate worker did not register")
            time.sleep(0.2)


def follow_to_end(session: requests.Session, api: str, job_id: str, collection: str = "jobs") -> dict:
    """Wait on the job's (or, with ``collection="pipelines"``, the pipeline's) event stream, as a
    client does; the finished view."""
    with session.get(f"{api}/api/v1/{collection}/{job_id}/events", stream=True) as events:
        for line in events.iter_lines(decode_unicode=True):
            if line == "event: end":
                break
    view = session.get(f"{api}/api/v1/{collection}/{job_id}").json()
    if view["status"] != "succeeded":
        raise RuntimeError(f"bench {collection} {job_id} {view['status']}: {view['error']}")
    return view


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def bare_apertium_ms(calls: int) -> list[float]:
    result = []
    for _ in range(calls):
        start = time.perf_counter()
        subprocess.run(["apertium", "-u", "eng-spa"], input=WORD, capture_output=True, text=True, check=True)
        result.append((time.perf_counter() - start) * 1000)
    return result


def end_to_end_ms(base: str, token: str, jobs: int) -> list[float]:
    """Submit one-word jobs one after another; time until the client sees ``succeeded``."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    result = []
    for _ in range(jobs):
        start = time.perf_counter()
        job = session.post(f"{base}/api/v1/jobs/translate",
                           json={"text": WORD, "source_lang": "en", "target_lang": "es"}).json()
        while True:
            status = session.get(f"{base}/api/v1/jobs/{job['id']}").json()["status"]
            if status == "succeeded":
                break
            if status in ("failed", "cancelled"):
                raise RuntimeError(f"bench job {job['id']} {status}")
            time.sleep(0.002)
        result.append((time.perf_counter() - start) * 1000)
    return result


SHORT_TEXTS = ["The cat is black.", "I would like a cup of coffee.", "The house is near the river.",
               "We walk to the market every morning.", "The children read a book."]


def short_texts(count: int) -> list[str]:
    """``count`` short sentences (a numbered variation of a few, so no two are the same)."""
    return [f"{SHORT_TEXTS[i % len(SHORT_TEXTS)]} Number {i}." for i in range(count)]


def warm_pipeline_seconds(texts: list[str]) -> float:
    """The baseline: the same texts through one warm Apertium pipeline in this process, one by one."""
    translator = ApertiumTranslator()
    translator.translate(texts[0], "en", "es")  # start the pipeline before the clock
    start = time.perf_counter()
    for text in texts:
        translator.translate(text, "en", "es")
    return time.perf_counter() - start


def platform_batch_seconds(base: str, token: str, texts: list[str], clients: int = 8) -> float:
    """Submit every text from ``clients`` threads at once; the wall time until the last succeeded."""
    def submit(text: str) -> str:
        with requests.Session() as session:
            reply = session.post(f"{base}/api/v1/jobs/translate", headers={"Authorization": f"Bearer {token}"},
                                 json={"text": text, "source_lang": "en", "target_lang": "es"})
            reply.raise_for_status()
            return reply.json()["id"]

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        ids = set(pool.map(submit, texts))
    while True:
        finished = session.get(f"{base}/api/v1/jobs", params={"kind": "translate", "status": "succeeded",
                                                              "per_page": 1}).json()["total"]
        if finished >= len(ids):
            return time.perf_counter() - start
        time.sleep(0.05)


def report_success(worker: InternalApi, job_id: str, claim_id: str) -> float:
    """Report the job done as its worker does; when the report started."""
    started = time.perf_counter()
    worker.succeed(job_id, claim_id, {"translated_text": "casa"})
    return started


def sse_push_ms(base: str, token: str, jobs: int) -> list[float]:
    """For each job: a client follows its event stream while the bench, as the worker, claims it and
    reports success through the internal API; the time from the start of that report to the client's
    ``succeeded`` event."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    worker = InternalApi(base, os.environ.get("CONVEYOR_WORKER_TOKEN", DEV_WORKER_TOKEN))
    result = []
    for _ in range(jobs):
        job_id = session.post(f"{base}/api/v1/jobs/translate",
                              json={"text": WORD, "source_lang": "en", "target_lang": "es"}).json()["id"]
        with session.get(f"{base}/api/v1/jobs/{job_id}/events", stream=True) as stream:
            lines = stream.iter_lines(decode_unicode=True)
            for line in lines:
                if line.startswith("data:") and '"queued"' in line:
                    break
            claim_id = worker.claim(job_id, "bench-sse")["claim_id"]
            with ThreadPoolExecutor(1) as pool:
                reported = pool.submit(report_success, worker, job_id, claim_id)
                for line in lines:
                    if line.startswith("data:") and '"succeeded"' in line:
                        seen = time.perf_counter()
                        break
                result.append((seen - reported.result()) * 1000)
    return result


def resident_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory_by_kind(processes: dict[str, subprocess.Popen]) -> dict[str, list[float]]:
    """Resident MB of each process started here, and of gunicorn's workers (the master's children)."""
    sizes: dict[str, list[float]] = {}
    for name, proc in processes.items():
        sizes[name] = [resident_mb(proc.pid)]
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        if name == "API gunicorn master" and children:
            sizes["API gunicorn worker"] = [resident_mb(int(child)) for child in children]
        elif children:  # the relay and the workers run their loop in a supervised child
            sizes[name] = [resident_mb(proc.pid) + sum(resident_mb(int(child)) for child in children)]
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per endpoint")
    parser.add_argument("--jobs", type=int, default=60, help="one-word jobs for the latency figure")
    parser.add_argument("--texts", type=int, default=1000, help="short texts for the batch figure")
    parser.add_argument("--sse-jobs", type=int, default=40, help="jobs for the event-stream push figure")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (make bench does)")
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    env = bench_env(workdir)
    reset_database(env)
    tokens = tokens_for_bench_users(env, 16)
    token = tokens[0]
    api_port, bare_port = free_port(), free_port()
    env["CONVEYOR_API_URL"] = f"http://127.0.0.1:{api_port}"
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py"]
    processes: dict[str, subprocess.Popen] = {}
    with ExitStack() as stack:
        processes["API gunicorn master"] = stack.enter_context(process(
            gunicorn + ["--bind", f"127.0.0.1:{api_port}", "services.api:create_app()"], env, workdir / "api.log"))
        stack.enter_context(process(gunicorn + ["--bind", f"127.0.0.1:{bare_port}", "bench.bare_app:create_app()"],
                                    env, workdir / "bare.log"))
        processes["outbox relay"] = stack.enter_context(process([sys.executable, "-m", "services.relay"], env,
                                                                 workdir / "relay.log"))
        api = f"http://127.0.0.1:{api_port}"
        wait_http(f"{api}/healthz")
        wait_http(f"http://127.0.0.1:{bare_port}/echo")
        # Submits are checked against a worker's registration; the worker itself runs only later, so
        # the submit figures measure the API (and the relay publishing), not the translations.
        register_translate_pairs()

        body = '{"text": "house", "source_lang": "en", "target_lang": "es"}'
        headers = {"Content-Type": "application/json"}
        print(f"== submit throughput (wrk -t2 -c16 -d{args.seconds}s, gunicorn {os.cpu_count()} CPUs) ==")
        bare = wrk(f"http://127.0.0.1:{bare_port}/echo", body, headers, args.seconds, workdir)
        one_user = wrk(f"{api}/api/v1/jobs/translate", body, {**headers, "Authorization": f"Bearer {token}"},
                       args.seconds, workdir)
        # The relay publishes what a run queued while it runs, and after: each run starts with none left.
        wait_for_relay()
        many_users = wrk(f"{api}/api/v1/jobs/translate", body, headers, args.seconds, workdir, tokens=tokens)
        print(f"bare Flask JSON POST      : {bare['rps']:8.0f} req/s  p50 {bare['p50_ms']:6.1f} ms  "
              f"errors {bare['errors']}")
        # One user's submits queue on that user's row lock (the active-job limit is exact).
        for label, found in (("job submit, 1 user", one_user), ("job submit, 16 users", many_users)):
            print(f"{label:<26}: {found['rps']:8.0f} req/s  p50 {found['p50_ms']:6.1f} ms  "
                  f"errors {found['errors']}  ratio {found['rps'] / bare['rps']:.3f} (target >= 0.5)")
        figures.update(bare_rps=bare["rps"], submit_1_user_rps=one_user["rps"], submit_16_users_rps=many_users["rps"],
                       submit_errors=one_user["errors"] + many_users["errors"])

        drop_submitted_jobs(env)
        print(f"== event-stream push, {args.sse_jobs} jobs: the worker's success report -> the client's event ==")
        push = sse_push_ms(api, tokens[2], args.sse_jobs)
        figures.update(sse_push_p50_ms=percentile(push, 0.5), sse_push_p95_ms=percentile(push, 0.95))
        print(f"report -> event            : p50 {figures['sse_push_p50_ms']:7.1f} ms  "
              f"p95 {figures['sse_push_p95_ms']:7.1f} ms  max {max(push):7.1f} ms  (target <= 10 ms)")

        drop_submitted_jobs(env)
        processes["translate worker"] = stack.enter_context(process(
            [sys.executable, "-m", "services.translate_worker"], env, workdir / "worker.log"))
        wait_for_worker(api)
        print(f"== one-word translation, {args.jobs} jobs one after another ==")
        bare_ms = bare_apertium_ms(max(10, args.jobs // 3))
        e2e = end_to_end_ms(api, token, args.jobs)
        b50, b95 = percentile(bare_ms, 0.5), percentile(bare_ms, 0.95)
        e50, e95 = percentile(e2e, 0.5), percentile(e2e, 0.95)
        print(f"bare `apertium -u eng-spa` : p50 {b50:7.1f} ms  p95 {b95:7.1f} ms")
        print(f"Conveyor submit -> result  : p50 {e50:7.1f} ms  p95 {e95:7.1f} ms  (mean {statistics.mean(e2e):.1f})")
        print(f"difference at p50          : {e50 - b50:+7.1f} ms  (target <= +50 ms)")
        figures.update(translate_e2e_p50_ms=e50, bare_apertium_p50_ms=b50)

        drop_submitted_jobs(env)
        texts = short_texts(args.texts)
        print(f"== {len(texts)} short texts: all submitted at once (8 clients) until the last result ==")
        warm = warm_pipeline_seconds(texts)
        batch = platform_batch_seconds(api, tokens[1], texts)
        print(f"warm Apertium pipeline, one by one : {warm:6.2f} s  ({len(texts) / warm:6.0f} texts/s)")
        print(f"Conveyor, submit -> every result   : {batch:6.2f} s  ({len(texts) / batch:6.0f} texts/s)  "
              f"ratio {batch / warm:.2f}")

        print("== resident memory per process (after the runs above) ==")
        for name, sizes in memory_by_kind(processes).items():
            print(f"{name:<26}: {', '.join(f'{size:.0f}' for size in sizes)} MB")
            figures[f"rss_mb {name}"] = max(sizes)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
