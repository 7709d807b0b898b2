"""The whole stack as `make up` starts it (scripts/up.sh), once per test module, on free ports (and once
more for a test that stops it: ``own_stack``)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
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
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
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
        yield {"base": base, "process": process, "database_url": database_url(database), "name": name}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()
        with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


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
