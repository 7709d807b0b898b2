"""Capacity figures for docs/scaling.md: what one job costs each component, and what each one carries.

1. Per-job costs, counted on a run of ``--jobs`` translate jobs (real Apertium worker):
   database statements by type and transactions (SQLAlchemy events in the API and relay, which run
   in this process; PostgreSQL's own pg_stat_database counters for the bench database beside them),
   AMQP frames by method and bytes (a counting TCP proxy in front of RabbitMQ for the relay and for
   the worker), HTTP requests and bytes through the API (a WSGI counter: public and internal API).
2. CPU per request: the API under gunicorn (2 processes x 8 threads) driven by wrk, for a submit and
   for a job status GET: the CPU seconds of the gunicorn process tree and of the PostgreSQL
   backends serving it, divided by the requests answered; the requests/s reached.
3. RabbitMQ alone: persistent job-sized messages published with confirms and consumed with acks,
   through a classic priority queue (as Conveyor declares its queues) and a quorum queue.
4. End to end: ``--batch`` short translate jobs submitted at once, until the last result, with 1 and
   2 translate workers.

Run: python -m bench.bench_capacity [--jobs 200] [--seconds 10] [--batch 300]. Needs PostgreSQL,
RabbitMQ, Apertium and wrk. Uses its own database (conveyor_bench_capacity) and queue prefix.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pika
import psycopg
import requests

from bench.bench_platform import (
    bench_env,
    free_port,
    process,
    register_translate_pairs,
    reset_database,
    short_texts,
    tokens_for_bench_users,
    wait_http,
    wrk,
)
from shared.config import DEV_AMQP_URL
from shared.messaging import queue_name

DATABASE = "conveyor_bench_capacity"
PG_URL = f"postgresql://conveyor:conveyor@127.0.0.1:5432/{DATABASE}"
CLK_TCK = os.sysconf("SC_CLK_TCK")
AMQP_METHODS = {(10, 10): "connection.start", (10, 11): "connection.start-ok", (10, 30): "connection.tune",
                (10, 31): "connection.tune-ok", (10, 40): "connection.open", (10, 41): "connection.open-ok",
                (20, 10): "channel.open", (20, 11): "channel.open-ok", (40, 10): "exchange.declare",
                (40, 11): "exchange.declare-ok", (50, 10): "queue.declare", (50, 11): "queue.declare-ok",
                (50, 20): "queue.bind", (50, 21): "queue.bind-ok", (60, 10): "basic.qos", (60, 11): "basic.qos-ok",
                (60, 20): "basic.consume", (60, 21): "basic.consume-ok", (60, 30): "basic.cancel",
                (60, 31): "basic.cancel-ok", (60, 40): "basic.publish", (60, 60): "basic.deliver",
                (60, 80): "basic.ack", (60, 90): "basic.reject", (60, 120): "basic.nack",
                (85, 10): "confirm.select", (85, 11): "confirm.select-ok"}


# --- counters ------------------------------------------------------------------------------------

class FrameCounter:
    """A TCP proxy in front of RabbitMQ that counts AMQP frames (methods by name) and bytes."""

    def __init__(self, broker: tuple[str, int]):
        self.broker = broker
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.methods: Counter = Counter()
        self.frames: Counter = Counter()
        self.bytes = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, amqp_url: str) -> str:
        parts = urlsplit(amqp_url)
        return urlunsplit(parts._replace(netloc=f"{parts.netloc.rpartition('@')[0]}@127.0.0.1:{self.port}"))

    def reset(self) -> None:
        with self._lock:
            self.methods.clear()
            self.frames.clear()
            self.bytes = 0

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            upstream = socket.create_connection(self.broker)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        buffer = b""
        header_seen = not from_client  # a client starts with the 8-byte protocol header
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                for sock in (source, sink):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
            try:
                sink.sendall(data)
            except OSError:
                return
            buffer += data
            if not header_seen and len(buffer) >= 8:
                buffer, header_seen = buffer[8:], True
            with self._lock:
                self.bytes += len(data)
                while header_seen and len(buffer) >= 7:
                    kind, _channel, size = struct.unpack("!BHI", buffer[:7])
                    if len(buffer) < size + 8:
                        break
                    payload = buffer[7:7 + size]
                    name = {1: "method", 2: "header", 3: "body", 8: "heartbeat"}.get(kind, str(kind))
                    self.frames[name] += 1
                    if kind == 1:
                        key = struct.unpack("!HH", payload[:4])
                        self.methods[AMQP_METHODS.get(key, f"{key[0]}.{key[1]}")] += 1
                    buffer = buffer[size + 8:]


class HttpCounter:
    """WSGI middleware: requests and bytes in and out, for the public and the internal API."""

    def __init__(self, app):
        self.app = app
        self.requests: Counter = Counter()
        self.bytes_in: Counter = Counter()
        self.bytes_out: Counter = Counter()
        self.routes: Counter = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        side = "internal" if path.startswith("/internal/") else "public"
        route = f"{environ['REQUEST_METHOD']} " + "/".join(
            "<id>" if len(part) == 36 and part.count("-") == 4 else part for part in path.split("/"))
        with self._lock:
            self.requests[side] += 1
            self.routes[route] += 1
            self.bytes_in[side] += int(environ.get("CONTENT_LENGTH") or 0)
        for chunk in self.app(environ, start_response):
            with self._lock:
                self.bytes_out[side] += len(chunk)
            yield chunk


class SqlCounter:
    """Statements by their first word, and commits, of every SQLAlchemy engine in this process."""

    def __init__(self):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.statements: Counter = Counter()
        self._lock = threading.Lock()
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        with self._lock:
            self.statements[statement.lstrip().split(None, 1)[0].upper()] += 1

    def _commit(self, conn):
        with self._lock:
            self.statements["COMMIT"] += 1


def pg_database_counters() -> dict[str, int]:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, blks_hit + blks_read "
                           "FROM pg_stat_database WHERE datname = %s", (DATABASE,)).fetchone()
    return dict(zip(("transactions", "rows inserted", "rows updated", "rows deleted", "blocks touched"), row))


def wait_finished(ids: set[str], timeout: float = 600) -> int:
    """Poll PostgreSQL (not the API, whose requests are being counted) until every job succeeded."""
    polls = 0
    deadline = time.monotonic() + timeout
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        while time.monotonic() < deadline:
            polls += 1
            done = conn.execute("SELECT count(*) FROM jobs WHERE status = 'succeeded' AND id::text = ANY(%s)",
                                (list(ids),)).fetchone()[0]
            if done == len(ids):
                return polls
            time.sleep(0.5)
    raise RuntimeError(f"only {done} of {len(ids)} jobs succeeded within {timeout}s")


# --- CPU of processes ------------------------------------------------------------------------------

def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, CPU seconds of the process itself) from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant."""
    stats = {int(entry.name): _stat(int(entry.name)) for entry in Path("/proc").iterdir() if entry.name.isdigit()}
    stats = {pid: stat for pid, stat in stats.items() if stat}
    tree, total, grew = {root}, 0.0, True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    for pid in tree:
        if pid in stats:
            total += stats[pid][1]
    return total


def backend_cpu() -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the bench database (readable as root)."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (DATABASE,))]
    found = {}
    for pid in pids:
        stat = _stat(pid)
        if stat:
            found[pid] = stat[1]
    return found


def cpu_per_request(url: str, method_body: str | None, headers: dict, tokens: list[str], seconds: int,
                    gunicorn_pid: int, workdir: Path) -> dict[str, float]:
    subprocess.run(["wrk", "-t2", "-c16", "-d2s", "-H", f"Authorization: Bearer {tokens[0]}", url],
                   capture_output=True, check=True)  # warm-up: the pools' connections exist before the count
    before_api, before_pg = tree_cpu(gunicorn_pid), backend_cpu()
    if method_body is None:  # GET
        out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "-H", f"Authorization: Bearer {tokens[0]}",
                              url], capture_output=True, text=True, check=True).stdout
        figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "errors": 0}
        total = int(re.search(r"(\d+) requests in", out).group(1))
    else:
        figures = wrk(url, method_body, headers, seconds, workdir, tokens=tokens)
        total = round(figures["rps"] * seconds)
    after_api, after_pg = tree_cpu(gunicorn_pid), backend_cpu()
    pg = sum(after_pg[pid] - before_pg.get(pid, 0.0) for pid in after_pg)  # a new backend: all of its CPU
    return {**figures, "requests": total, "api_cpu_ms": 1000 * (after_api - before_api) / total,
            "pg_cpu_ms": 1000 * pg / total, "load": os.getloadavg()[0]}


# --- RabbitMQ alone --------------------------------------------------------------------------------

def broker_round_trip(amqp_url: str, count: int, quorum: bool) -> float:
    """Messages/s through one queue: publish ``count`` persistent messages with confirms while one
    consumer (prefetch 1, as a worker) acks them; the wall time until the last ack."""
    name = f"cbench-capacity-{'quorum' if quorum else 'classic'}-{uuid.uuid4().hex[:6]}"
    arguments = {"x-queue-type": "quorum"} if quorum else {"x-max-priority": 10}
    body = b'{"job_id": "6f1c7a3e-0000-4000-8000-000000000000", "kind": "translate", "attempt": 1, ' \
           b'"schema_version": 1}'
    setup = pika.BlockingConnection(pika.URLParameters(amqp_url))
    setup.channel().queue_declare(name, durable=True, arguments=arguments)
    done = threading.Event()

    def consume() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=1)
        received = 0

        def on_message(ch, method, properties, data):
            nonlocal received
            ch.basic_ack(method.delivery_tag)
            received += 1
            if received == count:
                done.set()
        channel.basic_consume(name, on_message)
        while not done.is_set():
            connection.process_data_events(time_limit=0.2)
        connection.close()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    started = time.perf_counter()
    for _ in range(count):
        channel.basic_publish("", name, body, properties=pika.BasicProperties(delivery_mode=2))
    done.wait(300)
    elapsed = time.perf_counter() - started
    connection.close()
    consumer.join(10)
    setup.channel().queue_delete(name)
    setup.close()
    return count / elapsed


# --- end to end ------------------------------------------------------------------------------------

def batch_seconds(api: str, tokens: list[str], texts: list[str]) -> float:
    def submit(index: int) -> str:
        reply = requests.post(f"{api}/api/v1/jobs/translate", timeout=60,
                              headers={"Authorization": f"Bearer {tokens[index % len(tokens)]}"},
                              json={"text": texts[index], "source_lang": "en", "target_lang": "es"})
        reply.raise_for_status()
        return reply.json()["id"]

    from concurrent.futures import ThreadPoolExecutor
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(submit, range(len(texts))))
    wait_finished(ids)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs whose costs are counted")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per endpoint")
    parser.add_argument("--batch", type=int, default=300, help="jobs of the end-to-end figure")
    parser.add_argument("--messages", type=int, default=5000, help="messages of the RabbitMQ figure")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (make bench does)")
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-capacity-"))
    env = bench_env(workdir, DATABASE)
    reset_database(env, DATABASE)
    tokens = tokens_for_bench_users(env, 16)
    amqp_url = env.get("AMQP_URL", DEV_AMQP_URL)
    broker = urlsplit(amqp_url)
    print(f"machine: {os.cpu_count()} CPUs (shared with whatever else runs: load average "
          f"{os.getloadavg()[0]:.1f}), PostgreSQL and RabbitMQ on the same machine")

    # 1. per-job costs -----------------------------------------------------------------------------
    relay_frames, worker_frames = FrameCounter((broker.hostname, broker.port or 5672)), \
        FrameCounter((broker.hostname, broker.port or 5672))
    sql = SqlCounter()
    os.environ.update(env)
    from werkzeug.serving import make_server

    from services.api import create_app
    from services.relay.outbox import OutboxRelay
    from shared.config import Config
    from shared.db import database_app
    from shared.messaging import Publisher

    app = create_app()
    http = HttpCounter(app.wsgi_app)
    app.wsgi_app = http
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"http://127.0.0.1:{server.server_port}"
    config = Config()
    stop = threading.Event()
    relay = OutboxRelay(database_app(config), Publisher(relay_frames.url(amqp_url), config.AMQP_PREFIX))
    threading.Thread(target=relay.run, args=(stop,), daemon=True).start()
    worker_env = {**env, "CONVEYOR_API_URL": api, "AMQP_URL": worker_frames.url(amqp_url)}
    with ExitStack() as stack:
        worker = stack.enter_context(process([sys.executable, "-m", "services.translate_worker"], worker_env,
                                             workdir / "worker-count.log"))
        wait_for_workers(1)
        time.sleep(2)  # the worker's start-up calls (declare, register) are over
        for counter in (relay_frames, worker_frames):
            counter.reset()
        sql.statements.clear()
        for counter in (http.requests, http.bytes_in, http.bytes_out, http.routes):
            counter.clear()
        # The relay polls the outbox even when idle: that rate, measured first, is taken off the counts.
        idle_before = pg_database_counters()["transactions"]
        sql.statements.clear()
        time.sleep(6.5)
        idle_sql = {word: count / 6.5 for word, count in sql.statements.items()}
        idle_transactions_per_second = (pg_database_counters()["transactions"] - idle_before - 1) / 6.5
        pg_before, worker_cpu_before = pg_database_counters(), tree_cpu(worker.pid)
        texts = short_texts(args.jobs)
        started = time.perf_counter()
        session = requests.Session()
        ids = set()
        for index, text in enumerate(texts):
            reply = session.post(f"{api}/api/v1/jobs/translate",
                                 headers={"Authorization": f"Bearer {tokens[index % 16]}"},
                                 json={"text": text, "source_lang": "en", "target_lang": "es"})
            reply.raise_for_status()
            ids.add(reply.json()["id"])
        polls = wait_finished(ids)
        elapsed = time.perf_counter() - started
        worker_cpu = tree_cpu(worker.pid) - worker_cpu_before
        statements = Counter({word: max(0, round(count - idle_sql.get(word, 0) * elapsed))
                              for word, count in sql.statements.items()})
        http_counts = {
            name: Counter(getattr(http, name)) for name in ("requests", "bytes_in", "bytes_out", "routes")}
        frames = {"relay": Counter(relay_frames.methods), "worker": Counter(worker_frames.methods)}
        frame_bytes = {"relay": relay_frames.bytes, "worker": worker_frames.bytes}
        time.sleep(1.5)  # PostgreSQL publishes its counters within about a second
        pg_after = pg_database_counters()
    stop.set()
    jobs = len(ids)
    print(f"\n== 1. per-job costs: {jobs} translate jobs (one short sentence each), {elapsed:.1f}s ==")
    print("database, statements per job from the API and the relay (SQLAlchemy; the relay's idle polls, "
          + ", ".join(f"{word} {rate:.1f}/s" for word, rate in idle_sql.items()) + ", taken off):")
    for word, count in statements.most_common():
        print(f"  {word:<10} {count / jobs:6.2f}")
    writes = sum(statements[word] for word in ("INSERT", "UPDATE", "DELETE"))
    print(f"  writes (INSERT+UPDATE+DELETE) {writes / jobs:.2f} per job, commits {statements['COMMIT'] / jobs:.2f}")
    print("database, PostgreSQL's own counters for the bench database (pg_stat_database), per job:")
    for name in pg_after:
        delta = pg_after[name] - pg_before[name]
        if name == "transactions":  # less this script's own polls and the idle rate (the relay's polls)
            delta -= polls + 1 + idle_transactions_per_second * elapsed
        print(f"  {name:<15} {delta / jobs:8.2f}")
    print(f"  (idle: {idle_transactions_per_second:.1f} transactions/s, the relay's polls, already taken off)")
    for label, methods in frames.items():
        body = ", ".join(f"{name} {count / jobs:.2f}" for name, count in methods.most_common() if count >= jobs / 10)
        print(f"AMQP, {label}: {sum(methods.values()) / jobs:.2f} method frames per job ({body}; connection "
              f"set-up and declarations amortised in the rest); {frame_bytes[label] / jobs:.0f} bytes per job")
    print("HTTP through the API, per job:")
    for side in ("public", "internal"):
        print(f"  {side:<8} {http_counts['requests'][side] / jobs:5.2f} requests, "
              f"{http_counts['bytes_in'][side] / jobs:7.0f} bytes in, "
              f"{http_counts['bytes_out'][side] / jobs:7.0f} bytes out")
    print("  routes: " + ", ".join(f"{route} {count / jobs:.2f}"
                                   for route, count in http_counts["routes"].most_common()))
    print(f"worker CPU per job (process and its Apertium pipelines): {1000 * worker_cpu / jobs:.1f} ms")
    server.shutdown()

    # 2. CPU per request, the API under gunicorn --------------------------------------------------------
    port = free_port()
    env["CONVEYOR_API_URL"] = gunicorn_api = f"http://127.0.0.1:{port}"
    env["GUNICORN_WORKERS"], env["GUNICORN_THREADS"] = "2", "8"
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
                "--bind", f"127.0.0.1:{port}", "services.api:create_app()"]
    with ExitStack() as stack:
        api_process = stack.enter_context(process(gunicorn, env, workdir / "api.log"))
        wait_http(f"{gunicorn_api}/healthz")
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute("DELETE FROM workers")  # part 1's worker; submits need only a registration
        register_translate_pairs(DATABASE)
        body = '{"text": "house", "source_lang": "en", "target_lang": "es"}'
        submit = cpu_per_request(f"{gunicorn_api}/api/v1/jobs/translate", body, {"Content-Type": "application/json"},
                                 tokens, args.seconds, api_process.pid, workdir)
        some_job = next(iter(ids))
        owner = tokens_owner(some_job, tokens)
        status = cpu_per_request(f"{gunicorn_api}/api/v1/jobs/{some_job}", None, {}, [owner], args.seconds,
                                 api_process.pid, workdir)
    print(f"\n== 2. the API under gunicorn (2 processes x 8 threads), wrk -t2 -c16 -d{args.seconds}s ==")
    for label, figures in (("submit (POST, 16 users)", submit), ("job status (GET)", status)):
        print(f"{label:<24}: {figures['rps']:7.0f} req/s, API CPU {figures['api_cpu_ms']:5.1f} ms/request, "
              f"PostgreSQL backends CPU {figures['pg_cpu_ms']:5.2f} ms/request, errors {figures['errors']}, "
              f"load average {figures['load']:.1f}")

    # 3. RabbitMQ alone ------------------------------------------------------------------------------------
    classic = broker_round_trip(amqp_url, args.messages, quorum=False)
    quorum = broker_round_trip(amqp_url, args.messages, quorum=True)
    print(f"\n== 3. RabbitMQ: {args.messages} persistent messages, publisher confirms, one consumer acking ==")
    print(f"classic priority queue (as Conveyor's): {classic:7.0f} msg/s")
    print(f"quorum queue (one node)               : {quorum:7.0f} msg/s")

    # 4. end to end, 1 and 2 workers -------------------------------------------------------------------
    print(f"\n== 4. end to end: {args.batch} short translate jobs submitted at once (8 clients) ==")
    for workers in (1, 2):
        with ExitStack() as stack:
            api_process = stack.enter_context(process(gunicorn, env, workdir / f"api-e2e{workers}.log"))
            relay_process = stack.enter_context(process([sys.executable, "-m", "services.relay"], env,
                                                        workdir / f"relay{workers}.log"))
            wait_http(f"{gunicorn_api}/healthz")
            drop_jobs(amqp_url, env["CONVEYOR_AMQP_PREFIX"])
            worker_processes = [
                stack.enter_context(process([sys.executable, "-m", "services.translate_worker"], env,
                                            workdir / f"worker-e2e{workers}-{index}.log"))
                for index in range(workers)]
            wait_for_workers(workers)
            roots = {"API (gunicorn)": api_process.pid, "relay": relay_process.pid,
                     "workers": [process.pid for process in worker_processes]}
            before = {name: sum(map(tree_cpu, pid if isinstance(pid, list) else [pid])) for name, pid in roots.items()}
            before_pg = backend_cpu()
            seconds = batch_seconds(gunicorn_api, tokens, short_texts(args.batch))
            after = {name: sum(map(tree_cpu, pid if isinstance(pid, list) else [pid])) for name, pid in roots.items()}
            after_pg = backend_cpu()
        cpu = {name: 1000 * (after[name] - before[name]) / args.batch for name in roots}
        pg_seconds = sum(after_pg[pid] - before_pg.get(pid, 0.0) for pid in after_pg)
        cpu["PostgreSQL backends"] = 1000 * pg_seconds / args.batch
        print(f"{workers} translate worker(s): {seconds:6.1f} s, {args.batch / seconds:5.1f} jobs/s; CPU per job: "
              + ", ".join(f"{name} {value:.1f} ms" for name, value in cpu.items())
              + f" (total {sum(cpu.values()):.1f} ms); load average {os.getloadavg()[0]:.1f}")
    remove_topology(amqp_url, env["CONVEYOR_AMQP_PREFIX"])


def remove_topology(amqp_url: str, prefix: str) -> None:
    """Delete the bench's queues and exchanges from the shared broker."""
    from shared.kinds import KINDS
    from shared.messaging import dead_letter_exchange_name, dead_letter_queue_name, exchange_name

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    for kind in KINDS:
        channel.queue_delete(queue_name(prefix, kind))
        channel.queue_delete(dead_letter_queue_name(prefix, kind))
    channel.exchange_delete(exchange_name(prefix))
    channel.exchange_delete(dead_letter_exchange_name(prefix))
    connection.close()


def tokens_owner(job_id: str, tokens: list[str]) -> str:
    """The token (of the bench users, registered in order) of the job's owner."""
    with psycopg.connect(PG_URL) as conn:
        username = conn.execute("SELECT username FROM users JOIN jobs ON jobs.user_id = users.id WHERE jobs.id = %s",
                                (job_id,)).fetchone()[0]
    return tokens[int(username.removeprefix("bench"))]


def drop_jobs(amqp_url: str, prefix: str) -> None:
    """Leave nothing queued from the figures before (the submits of part 2), and no worker registered."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("DELETE FROM outbox WHERE sent_at IS NULL")
        conn.execute("UPDATE jobs SET status = 'cancelled' WHERE status IN ('queued', 'retrying', 'running')")
        conn.execute("DELETE FROM workers WHERE id <> 'bench-registration'")
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    connection.channel().queue_purge(queue_name(prefix, "translate"))
    connection.close()


def wait_for_workers(count: int) -> None:
    deadline = time.monotonic() + 120
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM workers WHERE id <> 'bench-registration'").fetchone()[0] < count:
            if time.monotonic() > deadline:
                raise RuntimeError("the translate workers did not register")
            time.sleep(0.2)


if __name__ == "__main__":
    main()
