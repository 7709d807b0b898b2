"""Two API replicas behind the gateway; one is killed (SIGKILL, master and workers) under load.

Clients submit translate jobs through the gateway without pause, each with its own
``Idempotency-Key`` and retrying a failed request with the same key; others follow long jobs'
event streams and, when a stream breaks, reconnect with ``Last-Event-ID``. Half-way, every process
of replica 0 gets SIGKILL. Counted and checked:

* failed requests: only requests in flight at the kill may fail (each started before the replica
  was gone, i.e. before its port closed, which takes the kernel some milliseconds after SIGKILL), at
  most one per client, and a retry with the same key gets the job the first try created, if it
  created one (one job per key);
* lost jobs: none; every accepted job is in the database and finishes;
* event streams: every chunk arrives exactly once and the stream ends, across resumes.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Optional

import psycopg
import requests

from tests.conftest import wait_for

SUBMITTERS = 4
STREAMS = 6
STEPS = 60  # chunks of each streamed job, 0.2 s apart: the streams span the kill
LOAD_SECONDS = 14.0
KILL_AFTER = 5.0
PASSWORD = "Replica-pass-2026"


@dataclass
class Attempt:
    key: str
    started: float
    ended: float
    status: Optional[int]  # None: no HTTP answer (the connection broke)
    job_id: Optional[str] = None
    replayed: bool = False


@dataclass
class Stream:
    job_id: str
    seqs: list[int] = field(default_factory=list)
    resumes: int = 0
    end: Optional[str] = None
    problems: list[str] = field(default_factory=list)


def _login(base: str) -> dict[str, str]:
    username = f"r{uuid.uuid4().hex[:10]}"
    reply = requests.post(f"{base}/auth/v1/register", timeout=30, json={
        "username": username, "email": f"{username}@example.com", "password": PASSWORD})
    assert reply.status_code == 201, reply.text
    tokens = requests.post(f"{base}/auth/v1/login", json={"username": username, "password": PASSWORD},
                           timeout=30).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _submit(session: requests.Session, base: str, headers: dict, text: str, key: str) -> Attempt:
    started = time.monotonic()
    try:
        reply = session.post(f"{base}/api/v1/jobs/translate", timeout=30, headers={**headers, "Idempotency-Key": key},
                             json={"text": text, "source_lang": "en", "target_lang": "es"})
    except requests.RequestException:
        return Attempt(key, started, time.monotonic(), None)
    attempt = Attempt(key, started, time.monotonic(), reply.status_code)
    if reply.status_code == 202:
        attempt.job_id = reply.json()["id"]
        attempt.replayed = reply.headers.get("Idempotent-Replayed") == "true"
    return attempt


def _follow(base: str, headers: dict, stream: Stream) -> None:
    """Read the job's event stream to its end, resuming after the last chunk's id when it breaks."""
    last_id: Optional[str] = None
    while stream.end is None:
        sent = {**headers, **({"Last-Event-ID": last_id} if last_id is not None else {})}
        event = None
        try:
            with requests.get(f"{base}/api/v1/jobs/{stream.job_id}/events", headers=sent, stream=True,
                              timeout=(5, 30)) as reply:
                if reply.status_code != 200:
                    stream.problems.append(f"HTTP {reply.status_code}")
                    time.sleep(0.5)
                    continue
                for line in reply.iter_lines(decode_unicode=True):
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("id: "):
                        last_id = line[4:]
                    elif line.startswith("data: ") and event == "chunk":
                        stream.seqs.append(int(last_id))
                    elif line.startswith("data: ") and event == "end":
                        stream.end = line[6:]
                        return
        except requests.RequestException as exc:
            stream.problems.append(exc.__class__.__name__)
        stream.resumes += 1
        time.sleep(0.2)


def test_killing_an_api_replica_under_load_loses_nothing(replicated_stack):
    stack = replicated_stack
    base = stack.base
    headers = _login(base)

    # Long jobs with event streams, opened before the load: about half land on each replica.
    streams = []
    for _ in range(STREAMS):
        attempt = _submit(requests.Session(), base, headers, f"steps={STEPS}", str(uuid.uuid4()))
        assert attempt.status == 202, attempt
        streams.append(Stream(attempt.job_id))
    followers = [threading.Thread(target=_follow, args=(base, headers, stream), daemon=True) for stream in streams]
    for follower in followers:
        follower.start()

    attempts: list[Attempt] = []
    lock = threading.Lock()
    stop = threading.Event()

    def submitter(number: int) -> None:
        session = requests.Session()
        sequence = 0
        while not stop.is_set():
            key, sequence = f"load-{number}-{sequence}-{uuid.uuid4().hex[:6]}", sequence + 1
            for _ in range(10):  # the same request with the same key until it is answered
                attempt = _submit(session, base, headers, f"Load {number}.{sequence}.", key)
                with lock:
                    attempts.append(attempt)
                if attempt.status == 202:
                    break
                time.sleep(0.1)

    threads = [threading.Thread(target=submitter, args=(number,), daemon=True) for number in range(SUBMITTERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(KILL_AFTER)
    killed_at = time.monotonic()
    dead_at = stack.kill_replica(0)
    time.sleep(LOAD_SECONDS - KILL_AFTER)
    stop.set()
    for thread in threads:
        thread.join(60)
    load_seconds = time.monotonic() - started

    failed = [attempt for attempt in attempts if attempt.status != 202]
    accepted = {attempt.key: attempt.job_id for attempt in attempts if attempt.status == 202}
    keys = {attempt.key for attempt in attempts}
    retried = {attempt.key for attempt in failed}
    replayed = [attempt for attempt in attempts if attempt.replayed]
    # Only requests in flight when the replica died may fail: each began before it was gone (SIGKILL
    # sent, then every process of it reaped and its port closed: a few milliseconds, printed below).
    assert all(attempt.started < dead_at for attempt in failed), [
        (round(a.started - killed_at, 3), a.status) for a in failed if a.started >= dead_at]
    assert len(failed) <= SUBMITTERS, failed
    assert set(accepted) == keys, "every request was answered in the end (retried with its key)"

    # One job per key, and it is the one the client holds: a retry got the first try's job when
    # the first try had created one (Idempotent-Replayed), else the job its own try created.
    with psycopg.connect(stack.database_url) as conn:
        rows = dict(conn.execute("SELECT key, job_id::text FROM idempotency_keys WHERE key LIKE 'load-%'").fetchall())
    assert rows == accepted

    # No job lost: every accepted job exists and finishes.
    def all_finished():
        with psycopg.connect(stack.database_url) as conn:
            states = dict(conn.execute("SELECT id::text, status FROM jobs WHERE id::text = ANY(%s)",
                                       (list(accepted.values()),)).fetchall())
        return states if len(states) == len(accepted) and set(states.values()) == {"succeeded"} else None
    wait_for(all_finished, timeout=180, interval=1.0, message="every accepted job to succeed")

    for follower in followers:
        follower.join(STEPS * 0.2 + 120)
    for stream in streams:
        assert stream.seqs == list(range(STEPS)), (stream.job_id, stream.seqs, stream.problems)
        assert stream.end is not None and '"succeeded"' in stream.end, stream
    resumed = [stream for stream in streams if stream.resumes]
    assert resumed, "no event stream was on the killed replica: nothing resumed"

    failures = [(attempt.status, round(attempt.started - killed_at, 3)) for attempt in failed]
    print(f"\n[replicas] {len(attempts)} submit requests in {load_seconds:.1f}s "
          f"({len(accepted) / load_seconds:.1f} jobs/s accepted) through the gateway; replica 0 killed at "
          f"{KILL_AFTER:.0f}s, its port closed {1000 * (dead_at - killed_at):.0f} ms after SIGKILL; "
          f"failed requests {len(failed)}, all in flight (status, start - kill in s: {failures}); "
          f"retried keys {len(retried)}, retries answered as replays {len(replayed)}; "
          f"jobs lost 0 of {len(accepted)}; event streams resumed with Last-Event-ID {len(resumed)} of "
          f"{STREAMS} ({sum(s.resumes for s in streams)} reconnects), chunks missed 0, duplicated 0")
