"""The whole stack as `make up` starts it (scripts/up.sh), once per test module, on free ports (and once
more for a test that stops it: ``own_stack``)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from tests.conftest import RUN_DIR, TEST_ENV, wait_for

ROOT = Path(__file__).resolve().parents[2]
# Each stack gets a database of its own on the test database's server (CONVEYOR_TEST_DATABASE_URL).
TEST_DATABASE = make_url(TEST_ENV["DATABASE_URL"])


def database_url(database: str, driver: str = "postgresql") -> str:
    """The URL of ``database`` on the test database's server (``postgresql`` is psycopg's form)."""
    return TEST_DATABASE.set(drivername=driver, database=database).render_as_string(hide_password=False)


def create_database(database: str) -> None:
    """A fresh, empty ``database`` on the test database's server (dropped first if a run left it)."""
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")


def drop_database(database: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_stack(name: str, module_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """The whole stack on free ports with its own database, stopped with Ctrl-C (SIGINT) at the end."""
    # Each stack gets its own database, queues and files, so stacks never see each other's jobs.
    # The run's pid in the name: two runs on one machine (two checkouts) never share a stack's database.
    database = f"conveyor_test_stack_{name}_{os.getpid()}"
    create_database(database)
    ports = {name: free_port() for name in ("CONVEYOR_PORT", "CONVEYOR_AUTH_PORT", "CONVEYOR_API_PORT")}
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVEYOR_")}
    env.update({name: str(port) for name, port in ports.items()})
    env.update({
        "DATABASE_URL": database_url(database, TEST_DATABASE.drivername),
        "CONVEYOR_AMQP_PREFIX": f"cstack{os.getpid()}{name.replace('_', '')}",
        "CONVEYOR_DATA_DIR": str(stack_data_dir(name)),
        "CONVEYOR_ADMIN_USERNAME": "boss",
        "CONVEYOR_ADMIN_PASSWORD": "Stack-admin-pass-77",
    })
    env.update(module_env)  # a module's own settings (e.g. S3 storage)
    if env.get("CONVEYOR_STORAGE") == "s3" and not env.get("CONVEYOR_S3_ENDPOINT"):
        # The stack starts its own SeaweedFS: a port per stack, or a module's stack and a test's own
        # stack would both answer on one port and the second weed would die at start.
        env["CONVEYOR_S3_PORT"] = str(free_port())
    log_path = RUN_DIR / f"stack-{name}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(["bash", "scripts/up.sh"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{ports['CONVEYOR_PORT']}"

    def ready():
        try:
            return requests.get(f"{base}/readyz", timeout=2).status_code == 200 and \
                requests.get(f"{base}/api/v1/languages", timeout=2).json()["pairs"]
        except (requests.ConnectionError, requests.Timeout, ValueError):
            assert process.poll() is None, log_path.read_text()[-3000:]
            return False

    try:
        wait_for(ready, timeout=90, interval=0.5, message="the stack to be ready")
        yield {"base": base, "process": process, "database_url": database_url(database), "name": name,
               "s3_port": env.get("CONVEYOR_S3_PORT")}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()
        drop_database(database)


def stack_data_dir(name: str) -> Path:
    """CONVEYOR_DATA_DIR of the stack called ``name``."""
    return RUN_DIR / f"stack-{name}"


def _module_name(request) -> str:
    return request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")


@pytest.fixture(scope="module")
def stack(request):
    """The module's stack, shared by its tests (a module's own settings: its ``STACK_ENV``)."""
    with running_stack(_module_name(request), getattr(request.module, "STACK_ENV", {})) as running:
        yield running


@pytest.fixture
def own_stack(request):
    """A stack for one test alone, with the module's settings: for a test that stops it (Ctrl-C), so
    the module's other tests keep theirs whatever order they run in."""
    name = f"{_module_name(request)}_own"
    with running_stack(name, getattr(request.module, "STACK_ENV", {})) as running:
        yield running


SCREENSHOTS = ROOT / "var" / "screenshots"


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, driven by Playwright (scripts/bootstrap_system.sh installs it)."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Chromium is missing: run `make system` (Debian package chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@dataclass
class BrowserTab:
    """A page in a fresh browser context, and what went wrong in it.

    A test that provokes an error on purpose (a refused upload answers 413, and Chromium logs
    "Failed to load resource") names the expected text in ``expected_problems``; any other console
    error, page error or failed request fails the test.
    """
    page: Any
    problems: list[str] = field(default_factory=list)
    expected_problems: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        """Save the page as var/screenshots/<name>.png (not committed) for a reviewer to look at."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def unexpected_problems(self) -> list[str]:
        return [problem for problem in self.problems
                if not any(expected in problem for expected in self.expected_problems)]


@pytest.fixture
def tab(chromium):
    """A 1280 px wide page; fails the test on console errors, page errors or failed requests."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    tab = BrowserTab(page)
    page.on("console", lambda message: tab.problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: tab.problems.append(
        f"request failed: {request.method} {request.url} ({request.failure})"))
    yield tab
    context.close()
    assert tab.unexpected_problems() == []


@dataclass
class ReplicatedStack:
    """Two API replicas behind the gateway, with auth, the relay and two paced workers (see below)."""
    base: str
    database_url: str
    replicas: list[subprocess.Popen]
    replica_ports: list[int]  # the workers' internal API calls go to replica 1
    logs: Path

    def kill_replica(self, index: int) -> float:
        """kill -9 every process of one replica (its gunicorn master and workers) at once; return the
        monotonic time from which its port refuses connections (the kernel has closed its sockets)."""
        process = self.replicas[index]
        os.killpg(process.pid, signal.SIGKILL)

        def refused() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.replica_ports[index]), timeout=1).close()
                return False
            except OSError:
                return True
        wait_for(refused, timeout=10, interval=0.001, message="the killed replica's port to close")
        gone_at = time.monotonic()
        process.wait(10)
        return gone_at


@pytest.fixture(scope="module")
def replicated_stack(request):
    """The gateway in front of TWO API replicas (gunicorn, 2 processes x 8 threads each), on free ports.

    The processes are `make up`'s (deploy/Procfile) without their supervisors, so a replica killed
    by a test stays dead; the workers are tests/e2e/paced_worker.py, whose internal API calls go to
    replica 1 (workers reach the API directly, not through the gateway), so a test kills replica 0.
    """
    from tests.broker_tools import BrokerTools

    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    database = f"conveyor_test_replicas_{module}_{os.getpid()}"
    create_database(database)
    gateway, auth, api_ports = free_port(), free_port(), [free_port(), free_port()]
    data_dir = RUN_DIR / f"replicas-{module}"
    prefix = f"creplicas{os.getpid()}{module.replace('_', '')}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVEYOR_")}
    env.update({
        "DATABASE_URL": database_url(database, TEST_DATABASE.drivername), "CONVEYOR_AMQP_PREFIX": prefix,
        "CONVEYOR_DATA_DIR": str(data_dir), "CONVEYOR_PORT": str(gateway), "CONVEYOR_AUTH_PORT": str(auth),
        "CONVEYOR_PUBLIC_URL": f"http://127.0.0.1:{gateway}",
        "CONVEYOR_API_URL": f"http://127.0.0.1:{api_ports[1]}",
        "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "prometheus"), "PYTHONUNBUFFERED": "1",
        "CONVEYOR_LOG_FORMAT": "text", "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "8",
        "CONVEYOR_MAX_ACTIVE_JOBS": "100000",
    })
    env.update(getattr(request.module, "STACK_ENV", {}))
    (data_dir / "prometheus").mkdir(parents=True, exist_ok=True)
    logs = RUN_DIR / f"replicas-{module}-logs"
    logs.mkdir(exist_ok=True)
    python = str(ROOT / ".venv/bin/python")
    subprocess.run([python, "-m", "services.ops", "init"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    runtime = data_dir / "nginx"
    subprocess.run([python, "-c", "import sys; from pathlib import Path; sys.path.insert(0, 'scripts');"
                    f"from render_gateway import render; render(Path({str(runtime)!r}), {api_ports!r})"],
                   cwd=ROOT, env=env, check=True)

    processes: list[subprocess.Popen] = []

    def start(name: str, argv: list[str]) -> subprocess.Popen:
        with open(logs / f"{name}.log", "wb") as log:
            process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        processes.append(process)
        return process

    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind"]
    start("auth", [*gunicorn, f"127.0.0.1:{auth}", "services.auth:create_app()"])
    replicas = [start(f"api{index}", [*gunicorn, f"127.0.0.1:{port}", "services.api:create_app()"])
                for index, port in enumerate(api_ports)]
    start("gateway", ["nginx", "-p", str(runtime), "-c", str(runtime / "nginx.conf")])
    start("relay", [python, "-m", "services.relay"])
    for index in range(2):
        start(f"worker{index}", [python, "-m", "tests.e2e.paced_worker"])
    base = f"http://127.0.0.1:{gateway}"

    def ready():
        for process in processes:
            assert process.poll() is None, f"{process.args} exited: see {logs}"
        try:
            return all(requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
                       for port in api_ports) and \
                requests.get(f"{base}/api/v1/languages", timeout=2).json()["pairs"]
        except (requests.ConnectionError, requests.Timeout, ValueError):
            return False

    try:
        wait_for(ready, timeout=120, interval=0.5, message="the replicated stack to be ready")
        yield ReplicatedStack(base, database_url(database), replicas, api_ports, logs)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        BrokerTools(env.get("AMQP_URL", TEST_ENV["AMQP_URL"]), prefix).delete_everything()
        drop_database(database)
