"""Shared fixtures. Integration tests use the real PostgreSQL and RabbitMQ that `make test` starts.

Every run gets its own storage directory and a fresh schema in the ``conveyor_test`` database (built
by the project's own migrations); every test gets its own queue prefix (its exchanges and queues are
deleted after it). The suite runs in random order (pytest-randomly, ``-p no:randomly`` to
turn it off, ``--randomly-seed=N`` replays an order: see README), so no test may depend on what another
left behind: worker registrations a test adds or removes are put back after it, and outbox rows left
pending and jobs left active by earlier tests are retired before a relay starts.
"""
from __future__ import annotations

import logging
import os
import stat
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

RUN_DIR = Path(tempfile.mkdtemp(prefix="conveyor-tests-"))
TEST_ENV = {
    "CONVEYOR_ENV": "testing",
    "DATABASE_URL": os.environ.get("CONVEYOR_TEST_DATABASE_URL",
                                   "postgresql+psycopg://conveyor:conveyor@127.0.0.1:5432/conveyor_test"),
    "AMQP_URL": os.environ.get("CONVEYOR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
    "CONVEYOR_AMQP_PREFIX": f"ctest{os.getpid()}",
    "CONVEYOR_DATA_DIR": str(RUN_DIR),
    # Short leases and backoffs keep the fault tests quick; the logic is the same as in production.
    "CONVEYOR_LEASE_SECONDS": "3",
    "CONVEYOR_RETRY_BACKOFF_SECONDS": "0.2",
    "CONVEYOR_MAX_UPLOAD_MB": "1",
    "CONVEYOR_MAX_ACTIVE_JOBS": "5",
    # Every test client calls from 127.0.0.1: the per-address count stays out of the way unless a
    # test lowers it; a long base delay keeps "throttled" from ending mid-test (tests move the clock).
    "CONVEYOR_LOGIN_FREE_FAILURES": "8",
    "CONVEYOR_LOGIN_FREE_FAILURES_ACCOUNT": "16",
    "CONVEYOR_LOGIN_FREE_FAILURES_IP": "1000000",
    "CONVEYOR_LOGIN_DELAY_SECONDS": "60",
    "CONVEYOR_MAX_TEXT_CHARS": "20000",
    # A cheaper argon2id for speed; production refuses costs this low (see shared.config).
    "CONVEYOR_ARGON2_TIME_COST": "1",
    "CONVEYOR_ARGON2_MEMORY_KIB": "8192",
}
os.environ.update(TEST_ENV)

STRONG_PASSWORD = "Sturdy-pass-2026"


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05,
             message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(autouse=True)
def _dev_null_stays_a_device():
    """Fail the test after which /dev/null is no longer a null device everyone may write.

    A gunicorn log path of /dev/null once got chmod 0600 (deploy/gunicorn.conf.py keeps log files
    private): rabbitmqctl, which runs as the rabbitmq user, then hung and a CI run failed.
    """
    yield
    mode = os.stat(os.devnull).st_mode
    assert stat.S_ISCHR(mode) and stat.S_IMODE(mode) == 0o666, f"this test left /dev/null {stat.filemode(mode)}"


@pytest.fixture(autouse=True)
def _own_queue_prefix(monkeypatch):
    """A queue prefix per test, so messages one test leaves queued never reach another's workers;
    yields when the test started (``_retire_earlier_tests_work``).

    Workers and relays read ``CONVEYOR_AMQP_PREFIX`` when they start, the session's API app is pointed
    at it by ``_clean_registrations`` (queue depths), and ``broker`` removes the test's queues after it.
    """
    started = time.time()
    monkeypatch.setenv("CONVEYOR_AMQP_PREFIX", f"ctest{os.getpid()}t{uuid.uuid4().hex[:8]}")
    yield started


@pytest.fixture(scope="session")
def config():
    from shared.config import Config
    return Config()


@pytest.fixture(scope="session")
def database(config):
    """A fresh schema built by the migrations (and development signing keys)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from services.ops.init import init

    url = make_url(config.SQLALCHEMY_DATABASE_URI).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    init(config)
    return config


@pytest.fixture(scope="session")
def app(database):
    from services.api import create_app
    return create_app(database)


@pytest.fixture(scope="session")
def auth_app(database):
    from services.auth import create_app
    return create_app(database)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth_client(auth_app):
    return auth_app.test_client()


@pytest.fixture
def db(app):
    """The database session, inside an application context."""
    from shared.db import db as handle
    with app.app_context():
        yield handle
        handle.session.remove()


@dataclass
class TestUser:
    id: int
    username: str
    password: str
    tokens: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def token(self) -> str:
        return self.tokens["access_token"]


@pytest.fixture
def make_user(auth_client, auth_app):
    """Register and log in a new user; ``role='admin'`` promotes it first."""

    def make(role: str = "user", password: str = STRONG_PASSWORD) -> TestUser:
        username = f"u{uuid.uuid4().hex[:12]}"
        reply = auth_client.post("/auth/v1/register", json={
            "username": username, "email": f"{username}@example.com", "password": password})
        assert reply.status_code == 201, reply.json
        user_id = reply.json["id"]
        if role != "user":
            from shared.db import db as handle
            from shared.models import User
            with auth_app.app_context():
                handle.session.get(User, user_id).role = role
                handle.session.commit()
        tokens = auth_client.post("/auth/v1/login", json={"username": username, "password": password}).json
        return TestUser(user_id, username, password, tokens, {"Authorization": f"Bearer {tokens['access_token']}"})

    return make


@pytest.fixture
def two_users(make_user):
    return make_user(), make_user()


@pytest.fixture
def admin(make_user):
    return make_user(role="admin")


@pytest.fixture(scope="session")
def translate_pairs():
    """The pairs a translate worker serves on this machine (Apertium's installed modes)."""
    from services.translate_worker.apertium import ApertiumTranslator
    return ApertiumTranslator().supported_pairs()


@pytest.fixture
def translate_pairs_registered(app, translate_pairs):
    """A translate worker's registration without the worker: submits are accepted, nothing runs them."""
    from shared.db import db as handle
    from shared.models import WorkerRecord
    with app.app_context():
        handle.session.merge(WorkerRecord(id="registered-in-test", kind="translate",
                                          capabilities={"pairs": translate_pairs}))
        handle.session.commit()


@pytest.fixture(scope="session")
def live_api(app):
    """The API served over real HTTP (workers call it), in a thread of the test process."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    os.environ["CONVEYOR_API_URL"] = url
    yield url
    server.shutdown()


@pytest.fixture
def broker(config, _own_queue_prefix):
    """Helpers over the real RabbitMQ under this test's prefix; removes its queues and exchanges after."""
    from tests.broker_tools import BrokerTools
    tools = BrokerTools(config.AMQP_URL, os.environ["CONVEYOR_AMQP_PREFIX"])
    yield tools
    tools.delete_everything()


@pytest.fixture(autouse=True)
def _clean_registrations(request, _own_queue_prefix):
    """Worker registrations as they were before the test, and the API's caches of them forgotten.

    Tests register stand-in workers and delete every registration of a kind (to see a 503); the
    registrations a test added are removed after it and those it removed are put back, so the next
    test sees the same workers whatever ran before it. Only for tests that use the database.
    (It asks for ``_own_queue_prefix``: autouse fixtures otherwise run in alphabetical order, and the
    app must get this test's prefix, not the one before it.)
    """
    if "database" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    app.config["AMQP_PREFIX"] = os.environ["CONVEYOR_AMQP_PREFIX"]
    from sqlalchemy import delete, select

    from services.api.kinds.base import forget_capabilities
    from shared.db import db as handle
    from shared.models import WorkerRecord

    columns = [column.key for column in WorkerRecord.__table__.columns]
    with app.app_context():
        before = {record.id: {name: getattr(record, name) for name in columns}
                  for record in handle.session.scalars(select(WorkerRecord))}
        handle.session.remove()
    yield
    with app.app_context():
        handle.session.execute(delete(WorkerRecord).where(WorkerRecord.id.not_in(list(before) or [""])))
        present = set(handle.session.scalars(select(WorkerRecord.id)))
        for record_id, fields in before.items():
            if record_id not in present:
                handle.session.add(WorkerRecord(**fields))
        handle.session.commit()
        handle.session.remove()
    forget_capabilities()


def _retire_earlier_tests_work(app, since: float) -> None:
    """Mark sent the outbox rows earlier tests left pending (jobs nobody ran), and cancel the jobs they
    left active, so a relay started now publishes only this test's rows: nothing of another test is
    queued ahead of them, and no job of theirs whose lease runs out is handed back into this test's
    queue (an earlier test's job once reached this test's worker that way: CI seed 1701643919)."""
    from datetime import datetime, timezone

    from sqlalchemy import update

    from shared.clock import utcnow
    from shared.db import db as handle
    from shared.models import Job, OutboxMessage
    from shared.states import ACTIVE, JobStatus, values

    started = datetime.fromtimestamp(since, timezone.utc)
    with app.app_context():
        handle.session.execute(update(OutboxMessage).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.created_at < started).values(sent_at=utcnow()))
        handle.session.execute(update(Job).where(Job.status.in_(values(ACTIVE)), Job.created_at < started)
                               .values(status=JobStatus.CANCELLED.value, finished_at=utcnow()))
        handle.session.commit()
        handle.session.remove()


@contextmanager
def relay_running(app, database, amqp_url: str, prefix: str, since: float):
    """An outbox relay in a thread, publishing to ``prefix`` on the broker at ``amqp_url``.

    It reads the shared outbox, so the work earlier tests left (``since``: when this test started)
    is retired first; published, their jobs would reach this test's workers.
    """
    from services.relay.outbox import OutboxRelay
    from shared.db import database_app
    from shared.messaging import Publisher

    _retire_earlier_tests_work(app, since)
    stop = threading.Event()
    relay = OutboxRelay(database_app(database), Publisher(amqp_url, prefix))
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        stop.set()
        thread.join(15)


@pytest.fixture
def relay(database, app, broker, _own_queue_prefix):
    """An outbox relay running in a thread for the duration of one test, publishing to the test's prefix."""
    with relay_running(app, database, database.AMQP_URL, broker.prefix, _own_queue_prefix) as running:
        yield running


@pytest.fixture
def start_worker(live_api, broker, app):
    """Start in-thread workers (``start_worker(handler=None, kind='translate')``), each returned once it
    consumes and its registration reached the API; all stop after the test."""
    from shared.config import Config
    from shared.worker import Worker

    started: list[tuple[Worker, threading.Thread]] = []

    def start(handler=None, kind: str = "translate", capabilities=None, **options) -> Worker:
        from services.translate_worker.translate import default_translator, process
        if handler is None:
            handler = process
            pairs = default_translator().supported_pairs()
            capabilities = capabilities or (lambda: {"pairs": pairs})
        worker = Worker(kind, handler, Config(), capabilities=capabilities,
                        worker_id=f"test-{kind}-{uuid.uuid4().hex[:6]}", **options)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        started.append((worker, thread))
        # Busy counts too: a worker that found a message waiting has stopped consuming to run it.
        wait_for(lambda: worker._consumer_tag is not None or worker._busy.is_set(), message="worker consuming")

        def registered():
            from shared.db import db as handle
            from shared.models import WorkerRecord
            with app.app_context():
                found = handle.session.get(WorkerRecord, worker.worker_id) is not None
                handle.session.remove()
                return found
        wait_for(registered, message=f"the {kind} worker's registration")
        return worker

    yield start
    for worker, _ in started:
        worker.stop()
    for _, thread in started:
        thread.join(15)


@pytest.fixture
def translate_worker(start_worker):
    return start_worker()


@pytest.fixture
def relay_factory(database, app, broker, _own_queue_prefix):
    """Build relays that a test drives by hand (``relay.relay_batch()`` inside ``relay.app.app_context()``)."""
    from services.relay.outbox import OutboxRelay
    from shared.db import database_app
    from shared.messaging import Publisher

    _retire_earlier_tests_work(app, _own_queue_prefix)
    relays = []

    def make() -> "OutboxRelay":
        relay = OutboxRelay(database_app(database), Publisher(database.AMQP_URL, broker.prefix))
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.publisher.close()


# Another host on this machine: a network namespace and its veth link (tests/netns.py), and a real
# SeaweedFS S3 server for the storage tests (session-scoped; only started when a test asks).
from tests.netns import other_host  # noqa: E402,F401
from tests.seaweedfs_server import seaweedfs  # noqa: E402,F401


@pytest.fixture
def root_at_warning():
    """The root logger at WARNING for one test, as in a fresh interpreter.

    The first app or worker a test session starts calls configure_logging, which sets the root to
    INFO for the rest of the session; a test that reads caplog for one logger's records would then
    also see other loggers' INFO lines, depending on what ran before it.
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    yield
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _fresh_asr_pace():
    """Each test starts with no measured speech-to-text pace, as a freshly started worker does.

    Whether a job begins with a short first chunk depends on the pace the worker measured on its
    earlier jobs (services/asr_worker/transcribe.py); in one test process that would be whatever the
    tests before happened to transcribe, and a transcript's chunking would depend on test order.
    """
    transcribe = sys.modules.get("services.asr_worker.transcribe")
    if transcribe is not None:
        transcribe._seconds_per_audio_second.clear()
    yield
