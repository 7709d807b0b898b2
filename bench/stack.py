"""A whole Conveyor stack for a bench, and the resident memory of each of its processes.

``whole_stack(workdir, database)`` starts the API under gunicorn, the outbox relay and one worker
process of each kind on a fresh database and queue prefix, waits until every worker has
registered, and yields a ``Stack``. ``Stack.memory()`` reads VmRSS from /proc/<pid>/status for
every process of it (gunicorn's master and workers, each supervisor and its worker child), so a
bench can print the resident size of each process kind.
"""
from __future__ import annotations

import re
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Iterator

import psycopg

from bench.bench_platform import api_under_gunicorn, process, wait_http
from shared.config import DEV_AMQP_URL
from tests.broker_tools import BrokerTools

ADMIN_DSN = "postgresql://conveyor:conveyor@127.0.0.1:5432/postgres"
WORKER_KINDS = ("translate", "asr", "vision", "convert")
_RSS_RE = re.compile(r"^VmRSS:\s+(\d+) kB", re.M)


def rss_kib(pid: int) -> int | None:
    """The resident size of a process in KiB (VmRSS), or None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = _RSS_RE.search(status)
    return int(found.group(1)) if found else None


def children(pid: int) -> list[int]:
    """The direct children of a process (every thread's list, as /proc keeps them per thread)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def _is_python(pid: int) -> bool:
    """Whether a process is Python (a worker's ffmpeg or apertium children are left out)."""
    try:
        # The executable, not the command line: gunicorn retitles its processes.
        return "python" in Path(f"/proc/{pid}/exe").resolve().name
    except OSError:
        return False


@dataclass
class Stack:
    """The running processes of a bench stack: name -> the top process (gunicorn master, supervisor)."""

    api: str
    token: str
    env: dict[str, str]
    database: str
    top: dict[str, Popen] = field(default_factory=dict)

    def memory(self) -> dict[str, int]:
        """Resident KiB of each process, named '<service> <role>[ n]': 'api master', 'api worker 1',
        'asr supervisor', 'asr worker'. Children that are not Python (ffmpeg, apertium) are left out."""
        sizes: dict[str, int] = {}
        for name, proc in self.top.items():
            top_role, child_role = ("master", "worker") if name == "api" else ("supervisor", "worker")
            if (size := rss_kib(proc.pid)) is not None:
                sizes[f"{name} {top_role}"] = size
            kids = [pid for pid in children(proc.pid) if _is_python(pid)]
            for number, pid in enumerate(sorted(kids), start=1):
                if (size := rss_kib(pid)) is not None:
                    sizes[f"{name} {child_role}" + (f" {number}" if len(kids) > 1 else "")] = size
        return sizes


def _wait_for_workers(database: str, kinds: tuple[str, ...], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(f"postgresql://conveyor:conveyor@127.0.0.1:5432/{database}",
                         autocommit=True) as conn:
        while True:
            registered = {row[0] for row in conn.execute("SELECT DISTINCT kind FROM workers")}
            if set(kinds) <= registered:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers did not register: {sorted(set(kinds) - registered)}")
            time.sleep(0.5)


@contextmanager
def whole_stack(workdir: Path, database: str, kinds: tuple[str, ...] = WORKER_KINDS
                ) -> Iterator[Stack]:
    """API, relay and one worker per kind, started and registered; everything removed afterwards."""
    env, token, api, gunicorn = api_under_gunicorn(workdir, database)
    broker = BrokerTools(env.get("AMQP_URL", DEV_AMQP_URL), env["CONVEYOR_AMQP_PREFIX"])
    stack = Stack(api, token, env, database)
    try:
        with ExitStack() as running:
            stack.top["api"] = running.enter_context(process(gunicorn, env, workdir / "api.log"))
            stack.top["relay"] = running.enter_context(
                process([sys.executable, "-m", "services.relay"], env, workdir / "relay.log"))
            for kind in kinds:
                stack.top[kind] = running.enter_context(
                    process([sys.executable, "-m", f"services.{kind}_worker"], env,
                            workdir / f"{kind}-worker.log"))
            wait_http(f"{api}/healthz")
            _wait_for_workers(database, kinds)
            yield stack
    finally:
        broker.delete_everything()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def print_memory(columns: dict[str, dict[str, int]]) -> None:
    """One row per process, one column of MB per moment ('idle', 'after work', ...)."""
    names = list(dict.fromkeys(name for sizes in columns.values() for name in sizes))
    print(f"{'process':<22}" + "".join(f"{label:>14}" for label in columns))
    for name in names:
        cells = "".join(
            f"{sizes[name] / 1024:>11.0f} MB" if name in sizes else f"{'-':>14}"
            for sizes in columns.values())
        print(f"{name:<22}{cells}")
