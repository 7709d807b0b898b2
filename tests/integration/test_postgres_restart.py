"""R15: PostgreSQL restarted under a submit load. The API answers 503 while it is down, takes
submits again once it is back, and every submit it answered 202 is in the database.

The cluster is a PRIVATE one made for this test (initdb into a temporary directory, run as the
postgres user on a free port): the shared PostgreSQL is never stopped. The API and auth apps are
built on it with the project's own migrations; the load runs through the API app in threads.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import STRONG_PASSWORD, wait_for

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
SUBMIT = {"text": "The cat is black.", "source_lang": "en", "target_lang": "es"}

pytestmark = pytest.mark.skipif(
    not PG_BIN or os.geteuid() != 0 or not shutil.which("runuser"),
    reason="needs PostgreSQL's server binaries, root and runuser (initdb runs as postgres)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivatePostgres:
    """A throw-away cluster owned by the postgres user, listening on 127.0.0.1:<port> only."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="conveyor-r15-"))
        shutil.chown(self.root, "postgres", "postgres")
        self.data, self.port, self.bin = self.root / "data", free_port(), PG_BIN[-1]

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)

    def create(self) -> str:
        """initdb, start, create a database; returns its SQLAlchemy URL."""
        self._as_postgres(f"{self.bin}/initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "-E", "UTF8", "--no-sync")
        self.start()
        self._as_postgres(f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                          "conveyor_r15")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/conveyor_r15"

    def start(self) -> None:
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                          "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                          "start")

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres():
    cluster = PrivatePostgres()
    try:
        yield cluster, cluster.create()
    finally:
        cluster.remove()


@pytest.fixture
def private_apps(private_postgres, monkeypatch, translate_pairs):
    """The API and auth apps on the private cluster (migrated), a user's headers, and a translate
    worker's registration so that submits are accepted."""
    from services.api import create_app as create_api
    from services.auth import create_app as create_auth
    from services.ops.init import init
    from shared.config import Config
    from shared.db import db as handle
    from shared.models import WorkerRecord

    cluster, url = private_postgres
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CONVEYOR_MAX_ACTIVE_JOBS", "100000")  # the load is one user's
    config = Config()
    init(config)
    api, auth = create_api(config), create_auth(config)
    with api.app_context():
        slow_commits(handle.session)
        handle.session.add(WorkerRecord(id="r15-registered", kind="translate",
                                        capabilities={"pairs": translate_pairs}))
        handle.session.commit()
        handle.session.remove()
    auth_client = auth.test_client()
    username = f"r15{uuid.uuid4().hex[:10]}"
    assert auth_client.post("/auth/v1/register", json={"username": username, "email": f"{username}@example.com",
                                                       "password": STRONG_PASSWORD}).status_code == 201
    token = auth_client.post("/auth/v1/login", json={"username": username, "password": STRONG_PASSWORD}
                             ).json["access_token"]
    yield cluster, api, {"Authorization": f"Bearer {token}"}
    with api.app_context():
        handle.engine.dispose()  # no pooled connection to the removed cluster outlives the test


def slow_commits(session) -> None:
    """Make each job insert spend 0.2 s inside COMMIT (a deferred constraint trigger), so that the
    shutdown catches submits in the middle of committing: one answered 202 without its commit
    having happened would then show as a lost job. Only in this test's private database."""
    from sqlalchemy import text
    session.execute(text("CREATE FUNCTION r15_slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
                         "$$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$"))
    session.execute(text("CREATE CONSTRAINT TRIGGER r15_slow_commit AFTER INSERT ON jobs "
                         "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION r15_slow_commit()"))


@dataclass
class Load:
    """Submits in a loop from a few threads, recording (monotonic time, status, job id or message)."""

    app: object
    headers: dict
    replies: list = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, threads: int = 3) -> list[threading.Thread]:
        workers = [threading.Thread(target=self._submit_loop, daemon=True) for _ in range(threads)]
        for worker in workers:
            worker.start()
        return workers

    def _submit_loop(self) -> None:
        client = self.app.test_client()
        while not self.stop.is_set():
            reply = client.post("/api/v1/jobs/translate", headers=self.headers, json=SUBMIT)
            body = reply.get_json(silent=True) or {}
            self.replies.append((time.monotonic(), reply.status_code, body.get("id") or body.get("message"),
                                 reply.headers.get("Retry-After")))
            if reply.status_code != 202:
                time.sleep(0.05)  # as a client told to retry would, without flooding the log

    def statuses(self, since: float = 0.0) -> list[int]:
        return [status for at, status, _, _ in list(self.replies) if at >= since]


def test_a_postgres_restart_under_submit_load_gives_503_then_recovers_and_loses_no_accepted_job(private_apps):
    from sqlalchemy import select

    from shared.db import db as handle
    from shared.models import Job, OutboxMessage

    cluster, api, headers = private_apps
    load = Load(api, headers)
    threads = load.run()
    try:
        wait_for(lambda: load.statuses().count(202) >= 10, timeout=30, message="submits flowing")
        stopped_at = time.monotonic()
        cluster.stop("fast")
        wait_for(lambda: load.statuses(since=stopped_at).count(503) >= 5, timeout=30, message="503s while down")
        cluster.start()
        started_at = time.monotonic()
        wait_for(lambda: load.statuses(since=started_at).count(202) >= 10, timeout=30,
                 message="submits accepted again")
        recovered = next(at for at, status, _, _ in load.replies if at >= started_at and status == 202) - started_at
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(15)

    unexpected = {status for status in load.statuses()} - {202, 503}
    assert not unexpected, f"only 202 or 503 while the database restarts, also saw {unexpected}"
    down = [(message, retry) for at, status, message, retry in load.replies if status == 503]
    assert {message for message, _ in down} == {"The database is unavailable; try again shortly."}
    assert {retry for _, retry in down} == {"5"}
    accepted = {uuid.UUID(job_id) for _, status, job_id, _ in load.replies if status == 202}
    with api.app_context():
        stored = set(handle.session.scalars(select(Job.id)))
        queued = set(handle.session.scalars(select(OutboxMessage.job_id)))
        handle.session.remove()
    assert accepted <= stored, f"{len(accepted - stored)} accepted job(s) are not in the database"
    assert accepted <= queued, "every accepted job has its outbox row"
    print(f"\n[R15] {len(accepted)} submits accepted, {len(down)} answered 503 while PostgreSQL was down; "
          f"first 202 {recovered:.2f}s after it was back")
