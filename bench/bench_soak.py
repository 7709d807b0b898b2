"""Soak: mixed kinds at a steady arrival rate below capacity, for minutes, on a whole stack.

Jobs of each kind (translate with ``source_lang: auto``, asr, vision, convert; small sample inputs)
are submitted in turn at a fixed rate for ``--seconds`` (default 300), then the bench waits for
the last to end. Printed per kind, from the jobs' own timestamps in the database: p50 and p99 of
the queue wait (submitted -> started) and of end to end (submitted -> finished), the count of
jobs and of errors (refused submits and jobs that did not succeed). The resident size (VmRSS) of
every process is sampled every ``--sample-seconds``; its first and last value and its slope (a
least-squares line, MB per minute) show whether memory stays flat. Prints figures only.

    python -m bench.bench_soak [--seconds 300] [--rate 0.5] [--sample-seconds 10]

Needs PostgreSQL, RabbitMQ, Apertium and the packaged models; uses its own database and queue prefix.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

from bench.bench_memory import session_of, submit
from bench.bench_platform import percentile
from bench.stack import Stack, whole_stack

BENCH_DB = "conveyor_bench_soak"
KINDS = ("translate", "asr", "vision", "convert")
TERMINAL = ("succeeded", "failed", "cancelled", "partial")


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """The least-squares slope of (seconds, value) samples, per minute."""
    if len(samples) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in samples)
    mean_v = statistics.fmean(v for _, v in samples)
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if not spread:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread * 60


def _sample_memory(stack: Stack, every: float, stop: threading.Event,
                   into: dict[str, list[tuple[float, float]]]) -> None:
    started = time.monotonic()
    while True:
        moment = time.monotonic() - started
        for name, kib in stack.memory().items():
            into[name].append((moment, kib / 1024))
        if stop.wait(every):
            return


def _arrivals(stack: Stack, seconds: float, rate: float, errors: Counter) -> list[tuple[str, str]]:
    """Submit kinds in turn, one every 1/rate s, for ``seconds``; (kind, job id) of each accepted."""
    submitted: list[tuple[str, str]] = []
    lock = threading.Lock()
    local = threading.local()

    def one(number: int) -> None:
        kind = KINDS[number % len(KINDS)]
        if not hasattr(local, "session"):
            local.session = session_of(stack)
        try:
            job_id = submit(local.session, stack.api, kind, number)
        except (requests.RequestException, RuntimeError) as exc:
            with lock:
                errors[f"{kind} submit: {exc.__class__.__name__}"] += 1
            return
        with lock:
            submitted.append((kind, job_id))

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        for number in range(int(seconds * rate)):
            # A fixed timetable: a slow submit does not push the later arrivals back.
            time.sleep(max(0.0, started + number / rate - time.monotonic()))
            pool.submit(one, number)
    return submitted


def _finished_jobs(database: str, ids: list[str], timeout: float) -> list[tuple]:
    """(id, kind, status, queue wait s, end to end s) of each job, once all have ended."""
    deadline = time.monotonic() + timeout
    query = ("SELECT id::text, kind, status, "
             "EXTRACT(EPOCH FROM started_at - created_at), "
             "EXTRACT(EPOCH FROM finished_at - created_at) "
             "FROM jobs WHERE id::text = ANY(%s)")
    with psycopg.connect(f"postgresql://conveyor:conveyor@127.0.0.1:5432/{database}",
                         autocommit=True) as conn:
        while True:
            rows = conn.execute(query, (ids,)).fetchall()
            if all(row[2] in TERMINAL for row in rows) or time.monotonic() > deadline:
                return rows
            time.sleep(1)


def main() -> None:
    """Run the soak and print its figures; no assertions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=0.5, help="jobs submitted per second")
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    args = parser.parse_args()
    errors: Counter = Counter()
    memory: dict[str, list[tuple[float, float]]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as workdir:
        with whole_stack(Path(workdir), BENCH_DB) as stack:
            # Warm each kind once (first calls load and tune), outside the figures.
            warm = session_of(stack)
            for kind in KINDS:
                submit(warm, stack.api, kind)
            time.sleep(5)
            stop = threading.Event()
            sampler = threading.Thread(target=_sample_memory,
                                       args=(stack, args.sample_seconds, stop, memory))
            sampler.start()
            try:
                submitted = _arrivals(stack, args.seconds, args.rate, errors)
                rows = _finished_jobs(stack.database, [job_id for _, job_id in submitted],
                                      timeout=max(120.0, args.seconds))
            finally:
                stop.set()
                sampler.join()
    per_kind: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        per_kind[row[1]].append(row)
        if row[2] != "succeeded":
            errors[f"{row[1]} job {row[2]}"] += 1
    print(f"\n== soak: {args.seconds:g} s, {args.rate:g} jobs/s in turn over "
          f"{', '.join(KINDS)}; {len(rows)} jobs ==")
    print(f"{'kind':<10}{'jobs':>6}{'wait p50 s':>12}{'wait p99 s':>12}{'e2e p50 s':>11}"
          f"{'e2e p99 s':>11}")
    for kind in KINDS:
        done = [row for row in per_kind[kind] if row[4] is not None]
        waits = [float(row[3]) for row in done if row[3] is not None]
        ends = [float(row[4]) for row in done]
        if not ends:
            print(f"{kind:<10}{len(per_kind[kind]):>6}  (none finished)")
            continue
        print(f"{kind:<10}{len(per_kind[kind]):>6}{percentile(waits, 0.5):>12.3f}"
              f"{percentile(waits, 0.99):>12.3f}{percentile(ends, 0.5):>11.3f}"
              f"{percentile(ends, 0.99):>11.3f}")
    print(f"errors: {sum(errors.values())}" + (f" ({dict(errors)})" if errors else ""))
    print(f"\n{'process':<22}{'first MB':>10}{'last MB':>10}{'slope MB/min':>14}")
    for name, samples in memory.items():
        print(f"{name:<22}{samples[0][1]:>10.0f}{samples[-1][1]:>10.0f}"
              f"{slope_per_minute(samples):>14.2f}")


if __name__ == "__main__":
    main()
