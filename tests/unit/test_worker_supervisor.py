"""Process supervision (shared.worker.supervisor) with real short-lived child processes.

The restart policy, what a child inherits (signal dispositions, death with its parent), signals
forwarded from the supervisor to its child, restarts counted, and the dead worker's ids reported to
the API. The supervisor of a real worker against the real API: tests/integration/test_recovery.py.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from shared.internal_api import ApiError, ApiUnavailable
from shared.worker import registry, supervisor
from shared.worker.supervisor import _CommandChild, _ProcessChild, restart_delay
from tests.conftest import wait_for

# Each test reads its own logger's records (tests/conftest.py, root_at_warning).
pytestmark = pytest.mark.usefixtures("root_at_warning")


@pytest.fixture(autouse=True)
def restore_signal_handlers():
    """The supervisor installs SIGTERM/SIGINT handlers in this (main) thread: put pytest's back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


# --- the restart policy ------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_child_killed_from_outside_comes_back_after_half_a_second_however_often(signum):
    assert restart_delay(-signum, 0.1, 16.0, 30.0) == 0.5
    assert restart_delay(-signum, 1000.0, 0.0, 30.0) == 0.5


@pytest.mark.parametrize("exitcode, lived, previous, delay", [
    (1, 0.2, 0.0, 1.0),          # a first crash
    (1, 0.2, 0.5, 1.0),          # after a kill: the crash pause starts at one second
    (1, 0.2, 1.0, 2.0),          # a crash loop doubles ...
    (3, 59.0, 4.0, 8.0),
    (-signal.SIGSEGV, 1.0, 2.0, 4.0),  # a fatal signal is a crash, not a kill
    (0, 60.0, 8.0, 16.0),        # a clean exit early is a crash too; the window's edge is inside it
    (1, 0.2, 20.0, 30.0),        # ... up to the cap
    (1, 0.2, 30.0, 30.0),
    (1, 60.001, 16.0, 1.0),      # a crash after a healthy run starts over at one second
    (-signal.SIGABRT, 3600.0, 30.0, 1.0),
])
def test_a_crashing_child_is_restarted_after_a_doubling_pause_capped(exitcode, lived, previous, delay):
    assert restart_delay(exitcode, lived, previous, 30.0) == delay


def test_the_cap_is_the_configured_one():
    assert restart_delay(1, 0.0, 4.0, 5.0) == 5.0
    assert restart_delay(1, 0.0, 0.0, 0.25) == 0.25


# --- children ------------------------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


PR_GET_PDEATHSIG = 2
LIBC = ctypes.CDLL(None, use_errno=True)


def death_signal() -> int:
    """This process's parent-death signal (prctl PR_GET_PDEATHSIG; 0: none)."""
    value = ctypes.c_int()
    assert LIBC.prctl(PR_GET_PDEATHSIG, ctypes.byref(value)) == 0
    return value.value


@pytest.fixture
def no_death_signal():
    """This process without a parent-death signal during the test; the one it had is put back after."""
    before = death_signal()
    LIBC.prctl(supervisor.PR_SET_PDEATHSIG, 0)
    yield
    LIBC.prctl(supervisor.PR_SET_PDEATHSIG, before)


def test_die_with_parent_asks_the_kernel_for_sigterm_when_the_parent_dies(no_death_signal):
    supervisor._die_with_parent()
    assert death_signal() == signal.SIGTERM


def test_without_prctl_die_with_parent_does_nothing(monkeypatch, no_death_signal):
    monkeypatch.setattr(supervisor.ctypes, "CDLL", lambda *args, **kwargs: types.SimpleNamespace())
    supervisor._die_with_parent()  # AttributeError: no prctl on this system, and no orphan protection
    assert death_signal() == 0


def test_a_process_child_resets_the_forwarding_handlers_and_announces_to_its_inbox(monkeypatch, no_death_signal):
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    monkeypatch.setattr(registry, "_supervisor_inbox", None)
    inbox = types.SimpleNamespace(put=lambda worker_id: seen.append(("put", worker_id)))
    seen = []

    def target():
        seen.append((signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT), death_signal()))
        registry.tell_supervisor("w-5")

    _ProcessChild._bootstrap(target, inbox)
    assert seen == [(signal.SIG_DFL, signal.default_int_handler, signal.SIGTERM), ("put", "w-5")]


def test_a_command_child_starts_with_sigterm_as_its_parent_death_signal(tmp_path):
    out = tmp_path / "pdeathsig"
    code = ("import ctypes, sys; value = ctypes.c_int(); ctypes.CDLL(None).prctl(2, ctypes.byref(value)); "
            "open(sys.argv[1], 'w').write(str(value.value))")
    assert _CommandChild([sys.executable, "-c", code, str(out)]).wait_exitcode() == 0
    assert out.read_text() == str(int(signal.SIGTERM))


def test_an_interrupted_wait_for_a_command_child_is_waited_again():
    child = _CommandChild([sys.executable, "-c", "import sys; sys.exit(6)"])
    real_wait, interrupted = child.process.wait, []

    def wait():
        if not interrupted:
            interrupted.append(True)
            raise InterruptedError
        return real_wait()

    child.process.wait = wait
    assert child.wait_exitcode() == 6 and interrupted == [True]


def test_a_command_child_reports_its_exit_status_and_pid():
    child = _CommandChild([sys.executable, "-c", "import sys; sys.exit(7)"])
    assert child.pid == child.process.pid and child.pid > 0
    assert child.wait_exitcode() == 7


def kill_if_alive(pid_file: Path) -> None:
    """Leave no orphan behind when the test failed."""
    if pid_file.exists() and pid_file.read_text() and alive(int(pid_file.read_text())):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_a_command_child_dies_with_its_supervisor(tmp_path):
    pid_file = tmp_path / "pid"
    code = (f"import sys, time; from shared.worker.supervisor import _CommandChild; "
            f"child = _CommandChild([sys.executable, '-c', 'import time; time.sleep(60)']); "
            f"open({str(pid_file)!r}, 'w').write(str(child.pid)); time.sleep(60)")
    middle = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2])
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text(), timeout=10, message="the grandchild's pid")
        grandchild = int(pid_file.read_text())
        assert alive(grandchild)
        middle.kill()
        middle.wait()
        wait_for(lambda: not alive(grandchild), timeout=10, message="the orphan to die")
    finally:
        middle.kill()
        middle.wait()
        kill_if_alive(pid_file)


def announce_and_exit():
    registry.tell_supervisor("w-a")
    registry.tell_supervisor("w-b")
    sys.exit(5)


def test_a_process_child_reports_its_exit_status_and_the_ids_it_announced():
    child = _ProcessChild(announce_and_exit, "unit-child")
    assert child.pid == child.process.pid and child.process.name == "unit-child"
    assert child.wait_exitcode() == 5
    assert child.announced_ids() == ["w-a", "w-b"]
    assert child.announced_ids() == []


def sleep_long():
    time.sleep(60)


def test_a_process_child_obeys_sigterm_and_sigint_although_its_parent_forwards_them():
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    for signum, exitcode in ((signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 1)):  # SIGINT: KeyboardInterrupt
        child = _ProcessChild(sleep_long, "unit-sleeper")
        time.sleep(0.3)  # let it reset its handlers
        os.kill(child.pid, signum)
        assert child.wait_exitcode() == exitcode


def child_of_process_child(pid_file: str):
    def target():
        grandchild = _ProcessChild(sleep_long, "unit-grandchild")
        Path(pid_file).write_text(str(grandchild.pid))
        time.sleep(60)
    return target


def test_a_process_child_dies_with_its_supervisor(tmp_path):
    pid_file = tmp_path / "pid"
    middle = _ProcessChild(child_of_process_child(str(pid_file)), "unit-middle")
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text(), timeout=10, message="the grandchild's pid")
        grandchild = int(pid_file.read_text())
        assert alive(grandchild)
        os.kill(middle.pid, signal.SIGKILL)
        assert middle.wait_exitcode() == -signal.SIGKILL
        wait_for(lambda: not alive(grandchild), timeout=10, message="the orphan to die")
    finally:
        if middle.process.is_alive():
            os.kill(middle.pid, signal.SIGKILL)
        kill_if_alive(pid_file)


# --- the supervision loop ---------------------------------------------------------------------------------


class Delays:
    """Stands in for restart_delay: records its arguments, answers ``answers`` in turn and, at the
    ``stop_after``-th death, sends the supervisor (this process) SIGTERM."""

    def __init__(self, answers, stop_after: int):
        self.answers = list(answers)
        self.calls = []
        self.stop_after = stop_after

    def __call__(self, exitcode, lived, previous, max_delay):
        self.calls.append((exitcode, lived, previous, max_delay))
        if len(self.calls) == self.stop_after:
            os.kill(os.getpid(), signal.SIGTERM)
        return self.answers.pop(0)


def config(max_delay: float = 7.0):
    return types.SimpleNamespace(RESTART_MAX_DELAY_SECONDS=max_delay)


def test_a_crashing_command_is_restarted_with_the_policy_until_the_supervisor_is_stopped(monkeypatch, caplog):
    delays = Delays([0.01, 0.02, 0.03], stop_after=3)
    monkeypatch.setattr(supervisor, "restart_delay", delays)
    with caplog.at_level(logging.INFO, logger="shared.worker.supervisor"):
        supervisor.run_command_supervised([sys.executable, "-c", "import sys; sys.exit(3)"], "unit-cmd", config())
    assert [(exitcode, previous, max_delay) for exitcode, _, previous, max_delay in delays.calls] == [
        (3, 0.0, 7.0), (3, 0.01, 7.0), (3, 0.02, 7.0)]
    assert all(0.0 < lived < 10.0 for _, lived, _, _ in delays.calls)
    restarts = [message for message in caplog.messages if "restarting" in message]
    assert len(restarts) == 3
    assert re.fullmatch(rf"unit-cmd \(pid [1-9][0-9]*\) exited with 3 after {delays.calls[0][1]:.1f}s; "
                        r"restarting in 0\.0s", restarts[0])
    assert caplog.messages[-1] == "unit-cmd: supervisor stopped"


def test_the_pause_before_a_restart_is_waited(monkeypatch):
    delays = Delays([0.6, 0.0], stop_after=2)
    monkeypatch.setattr(supervisor, "restart_delay", delays)
    started = time.monotonic()
    supervisor.run_command_supervised([sys.executable, "-c", "pass"], "unit-cmd", config())
    assert time.monotonic() - started >= 0.6
    assert [call[0] for call in delays.calls] == [0, 0]


def test_the_cap_comes_from_the_settings_when_none_are_given(monkeypatch):
    monkeypatch.setenv("CONVEYOR_RESTART_MAX_DELAY_SECONDS", "4.5")
    delays = Delays([0.0], stop_after=1)
    monkeypatch.setattr(supervisor, "restart_delay", delays)
    supervisor.run_command_supervised([sys.executable, "-c", "pass"], "unit-cmd")
    assert delays.calls[0][3] == 4.5


HANDLES_SIGNALS = """
import signal, sys, time

signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))
signal.signal(signal.SIGINT, lambda *a: sys.exit(43))
open(sys.argv[1], "w").write("ready")
time.sleep(60)
"""


def signal_when_ready(marker: Path, signum: int) -> threading.Thread:
    def send():
        wait_for(marker.exists, timeout=10, message="the child to be ready")
        os.kill(os.getpid(), signum)
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("signum, exitcode", [(signal.SIGTERM, 42), (signal.SIGINT, 43)])
def test_a_signal_to_the_supervisor_is_forwarded_to_its_child_and_stops_both(tmp_path, monkeypatch, caplog,
                                                                            signum, exitcode):
    marker = tmp_path / "ready"
    starts, exits = [], []

    def start():
        starts.append(supervisor._CommandChild([sys.executable, "-c", HANDLES_SIGNALS, str(marker)]))
        return starts[-1]

    monkeypatch.setattr(supervisor, "restart_delay", lambda *args: pytest.fail("restarted after a stop"))
    sender = signal_when_ready(marker, signum)
    with caplog.at_level(logging.INFO, logger="shared.worker.supervisor"):
        supervisor._supervise(start, "unit-fwd", 7.0, lambda child, code: exits.append((child, code)))
    sender.join()
    assert len(starts) == 1 and exits == [(starts[0], exitcode)]
    assert caplog.messages == ["unit-fwd: supervisor stopped"]


def test_a_signal_that_comes_while_the_child_starts_stops_the_new_child(tmp_path, monkeypatch):
    marker = tmp_path / "ready"
    exits = []

    def start():
        child = supervisor._CommandChild([sys.executable, "-c", HANDLES_SIGNALS, str(marker)])
        wait_for(marker.exists, timeout=10, message="the child to be ready")
        os.kill(os.getpid(), signal.SIGINT)  # the supervisor knows no child yet: nothing is forwarded
        return child

    supervisor._supervise(start, "unit-race", 7.0, lambda child, code: exits.append(code))
    assert exits == [42]  # the child got SIGTERM from the supervisor itself


def test_a_forwarded_signal_to_a_child_already_gone_is_ignored(monkeypatch):
    class Gone:
        pid = 2 ** 22 + 12345  # above pid_max's default: no such process

        def wait_exitcode(self):
            os.kill(os.getpid(), signal.SIGTERM)
            return 0

    exits = []
    supervisor._supervise(Gone, "unit-gone", 7.0, lambda child, code: exits.append(code))
    assert exits == [0]


def announce_then_crash():
    registry.tell_supervisor("w-9")
    registry.tell_supervisor(multiprocessing.current_process().name)
    sys.exit(4)


def test_a_supervised_target_is_restarted_and_each_death_reported_with_its_ids(monkeypatch, caplog):
    deaths = []

    def on_exit(ids, exitcode):
        deaths.append((ids, exitcode))
        if len(deaths) == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    delays = Delays([0.01, 0.01], stop_after=99)
    monkeypatch.setattr(supervisor, "restart_delay", delays)
    with caplog.at_level(logging.INFO, logger="shared.worker.supervisor"):
        supervisor.run_supervised(announce_then_crash, "unit-target", on_exit=on_exit, config=config(3.0))
    assert deaths == [(["w-9", "unit-target"], 4), (["w-9", "unit-target"], 4)]  # the child is named too
    assert caplog.messages[-1] == "unit-target: supervisor stopped"
    assert [call[3] for call in delays.calls] == [3.0]


def test_a_supervised_target_without_on_exit_is_still_restarted(monkeypatch):
    delays = Delays([0.0, 0.0], stop_after=2)
    monkeypatch.setattr(supervisor, "restart_delay", delays)
    supervisor.run_supervised(announce_then_crash, "unit-target", config=config())
    assert [call[0] for call in delays.calls] == [4, 4]


# --- reporting a dead worker --------------------------------------------------------------------------------


class Api:
    def __init__(self, errors=None):
        self.gone = []
        self.errors = errors or {}

    def worker_gone(self, worker_id, reason):
        self.gone.append((worker_id, reason))
        if worker_id in self.errors:
            raise self.errors[worker_id]


@pytest.mark.parametrize("exitcode, reason", [(3, "exit status 3"), (0, "exit status 0"),
                                              (-9, "killed by signal 9"), (-11, "killed by signal 11")])
def test_each_id_of_a_dead_worker_is_reported_with_how_it_died(exitcode, reason, caplog):
    api = Api()
    with caplog.at_level(logging.INFO, logger="shared.worker.supervisor"):
        supervisor.release_dead_worker(api, ["w-1", "w-2"], exitcode)
    assert api.gone == [("w-1", reason), ("w-2", reason)]
    assert caplog.messages == [f"w-1 died ({reason}); its jobs were handed back",
                               f"w-2 died ({reason}); its jobs were handed back"]


def test_a_report_the_api_refuses_is_logged_and_the_next_id_still_reported(caplog):
    api = Api({"w-1": ApiUnavailable("down"), "w-2": ApiError(404, "no such worker")})
    with caplog.at_level(logging.WARNING, logger="shared.worker.supervisor"):
        supervisor.release_dead_worker(api, ["w-1", "w-2", "w-3"], 1)
    assert [worker_id for worker_id, _ in api.gone] == ["w-1", "w-2", "w-3"]
    assert caplog.messages == [
        "w-1 died (exit status 1) but the API was not told (down); its lease will expire",
        "w-2 died (exit status 1) but the API was not told (404: no such worker); its lease will expire"]


def test_a_worker_process_checks_production_settings_and_serves_supervised(monkeypatch):
    calls = []
    monkeypatch.setattr(supervisor, "configure_logging", lambda: calls.append("logging"))

    class Config(supervisor.Config):
        def check_production(self, role=None):
            calls.append(("check", role))

    monkeypatch.setattr(supervisor, "Config", Config)
    monkeypatch.setattr(supervisor, "run_supervised",
                        lambda target, name, on_exit, config: calls.append((target, name, on_exit, config)))
    served = []
    supervisor.run_worker_process("unit-kind", served.append)
    assert calls[:2] == ["logging", ("check", "worker")]
    [(target, name, on_exit, config)] = calls[2:]
    assert name == "unit-kind" and isinstance(config, Config)
    target()
    assert served == [config]
    api = Api()
    released = []
    monkeypatch.setattr(supervisor, "release_dead_worker", lambda *args: released.append(args))
    on_exit(["w-1"], -9)
    [(used_api, ids, exitcode)] = released
    assert (ids, exitcode) == (["w-1"], -9)
    assert used_api.base_url == config.API_URL.rstrip("/") + "/internal/v1"
    assert (used_api.timeout, used_api.retry_seconds) == (10.0, 10.0)
    assert used_api.session.headers["X-Worker-Token"] == config.WORKER_TOKEN
    assert api.gone == []
