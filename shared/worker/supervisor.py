"""Process supervision: a long-running process runs as a child, started again whenever it dies.

Workers (``run_worker_process``) and the outbox relay run their loop in a child process; the
servers of ``make up`` (gunicorn masters, nginx) run as a child command (``run_command_supervised``,
scripts/supervise.py). The supervisor itself only waits and restarts, so it is the part that does
not crash; SIGTERM/SIGINT to it stop the child and then the supervisor (Ctrl-C stops everything).

Restart policy (``restart_delay``): a child killed from outside (SIGKILL, SIGTERM, SIGINT, SIGHUP:
an operator, the OOM killer, a fault test) comes back after ``KILLED_RESTART_SECONDS``, however
often it happens, since nothing says the next start will fail. A child that *crashes* (exit
status, or a fatal signal such as SIGSEGV) within ``CRASH_WINDOW_SECONDS`` of starting is in a
crash loop (bad config, missing model): the pause doubles up to ``Config.RESTART_MAX_DELAY_SECONDS``.
A crash after a long healthy run restarts after one second.

A supervised worker tells its supervisor the id it claims jobs under (shared.worker.registry); when
the child dies, the supervisor reports that id to the API, which hands the worker's running jobs
back at once (see ``release_dead_worker`` below for why this, and not a shorter lease).
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import subprocess
import threading
import time
from typing import Callable, Optional, Protocol

from shared.config import Config
from shared.internal_api import ApiError, ApiUnavailable, InternalApi
from shared.logging_setup import configure_logging
from shared.worker import registry

LOGGER = logging.getLogger(__name__)

KILLED_RESTART_SECONDS = 0.5
CRASH_WINDOW_SECONDS = 60.0
FIRST_CRASH_DELAY_SECONDS = 1.0
EXTERNAL_KILLS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
PR_SET_PDEATHSIG = 1

OnExit = Callable[[list[str], int], None]


class Child(Protocol):
    pid: Optional[int]

    def wait_exitcode(self) -> int: ...


def restart_delay(exitcode: int, lived_seconds: float, previous_delay: float, max_delay: float) -> float:
    """How long to wait before starting a child again (the policy in the module docstring)."""
    if exitcode < 0 and -exitcode in EXTERNAL_KILLS:
        return KILLED_RESTART_SECONDS
    if lived_seconds > CRASH_WINDOW_SECONDS:
        return FIRST_CRASH_DELAY_SECONDS
    return min(max(previous_delay * 2, FIRST_CRASH_DELAY_SECONDS), max_delay)


def _die_with_parent() -> None:
    """In a child: receive SIGTERM when the supervisor dies, so a killed supervisor leaves no orphan."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: an orphan then lives until stopped by hand
        pass


class _ProcessChild:
    """``target`` in a forked child; the worker ids it announces arrive in ``inbox``."""

    def __init__(self, target: Callable[[], None], name: str):
        self.inbox: multiprocessing.SimpleQueue = multiprocessing.SimpleQueue()
        self.process = multiprocessing.Process(target=self._bootstrap, args=(target, self.inbox), name=name)
        self.process.start()
        self.pid = self.process.pid

    @staticmethod
    def _bootstrap(target: Callable[[], None], inbox) -> None:
        # The fork inherited the supervisor's forwarding handlers; the child must obey signals itself.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _die_with_parent()
        registry._supervisor_inbox = inbox
        target()

    def wait_exitcode(self) -> int:
        self.process.join()
        return self.process.exitcode

    def announced_ids(self) -> list[str]:
        ids = []
        while not self.inbox.empty():
            ids.append(self.inbox.get())
        return ids


class _CommandChild:
    """A command run as a child process."""

    def __init__(self, argv: list[str]):
        self.process = subprocess.Popen(argv, preexec_fn=_die_with_parent)  # noqa: PLW1509 - one-threaded parent
        self.pid = self.process.pid

    def wait_exitcode(self) -> int:
        while True:
            try:
                return self.process.wait()
            except InterruptedError:
                continue


def _supervise(start: Callable[[], Child], name: str, max_delay: float,
               on_exit: Optional[Callable[[Child, int], None]] = None) -> None:
    stopping = threading.Event()
    child: Optional[Child] = None

    def forward(signum, frame):
        stopping.set()
        if child is not None and child.pid:
            try:
                os.kill(child.pid, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    delay = 0.0
    while not stopping.is_set():
        child = start()
        if stopping.is_set():  # a signal came between the check and the start
            os.kill(child.pid, signal.SIGTERM)
        started = time.monotonic()
        exitcode = child.wait_exitcode()
        lived = time.monotonic() - started
        if on_exit is not None:
            on_exit(child, exitcode)
        if stopping.is_set():
            break
        delay = restart_delay(exitcode, lived, delay, max_delay)
        LOGGER.error("%s (pid %s) exited with %s after %.1fs; restarting in %.1fs",
                     name, child.pid, exitcode, lived, delay)
        stopping.wait(delay)
    LOGGER.info("%s: supervisor stopped", name)


def run_supervised(target: Callable[[], None], name: str, on_exit: Optional[OnExit] = None,
                   config: Optional[Config] = None) -> None:
    """Run ``target`` in a child process and start it again if it dies (a crash must not stop the queue).

    ``on_exit(worker_ids, exitcode)`` runs after each death with the ids the child announced.
    """
    config = config or Config()

    def after(child: Child, exitcode: int) -> None:
        if on_exit is not None and isinstance(child, _ProcessChild):
            on_exit(child.announced_ids(), exitcode)

    _supervise(lambda: _ProcessChild(target, name), name, config.RESTART_MAX_DELAY_SECONDS, after)


def run_command_supervised(argv: list[str], name: str, config: Optional[Config] = None) -> None:
    """Run a command (a server of ``make up``) and start it again whenever it exits, until stopped."""
    config = config or Config()
    _supervise(lambda: _CommandChild(argv), name, config.RESTART_MAX_DELAY_SECONDS)


def release_dead_worker(api: InternalApi, worker_ids: list[str], exitcode: int) -> None:
    """Tell the API that the worker(s) of a dead child are gone, so their jobs run again now.

    Why this and not a shorter lease: a lease of L seconds is renewed every L/3, so recovering within
    10 s by lease alone needs L ≈ 7 s, i.e. ~0.43 renewals/s per running job (each a locked UPDATE
    and a commit; tests/integration/test_recovery.py prints the measured cost of one), against
    0.05/s at today's 60 s; and a worker that is only slow (GC, a loaded API, a stalled disk) for 7 s
    would lose its job to a second live worker. Taking over when the registry heartbeat is stale has
    the same trade at 30 s heartbeats. The supervisor instead *knows*: it has reaped the process, so
    nothing of it can write any more, the hand-back costs one request per death and none per job,
    and it happens within a second of the death. The lease stays the rule for what no supervisor can
    see (a host lost whole, a partitioned network), and if this report fails the lease still applies.
    """
    reason = f"exit status {exitcode}" if exitcode >= 0 else f"killed by signal {-exitcode}"
    for worker_id in worker_ids:
        try:
            api.worker_gone(worker_id, reason)
            LOGGER.info("%s died (%s); its jobs were handed back", worker_id, reason)
        except (ApiError, ApiUnavailable) as exc:
            LOGGER.warning("%s died (%s) but the API was not told (%s); its lease will expire",
                           worker_id, reason, exc)


def run_worker_process(name: str, serve: Callable[[Config], None]) -> None:
    """A worker kind's entry point: production checks, then ``serve`` in a supervised child process."""
    configure_logging()
    config = Config()
    config.check_production(role="worker")
    api = InternalApi(config.API_URL, config.WORKER_TOKEN, timeout=10.0, retry_seconds=10.0)
    run_supervised(lambda: serve(config), name,
                   on_exit=lambda ids, exitcode: release_dead_worker(api, ids, exitcode), config=config)
