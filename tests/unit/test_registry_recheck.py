"""A worker whose capabilities change (an Argos package installed) announces them at once, not on the
next 30-second heartbeat; unchanged ones are not sent again before the heartbeat is due."""
from __future__ import annotations

import threading

import pytest

from shared.worker.registry import REGISTRY_EVERY_SECONDS, registry_loop
from tests.conftest import wait_for

# Each test reads its own logger's records (tests/conftest.py, root_at_warning).
pytestmark = pytest.mark.usefixtures("root_at_warning")


class RecordingApi:
    """Stands for the internal API's client: keeps every heartbeat it is sent."""

    def __init__(self):
        self.sent: list[dict] = []

    def heartbeat(self, worker_id, kind, capabilities):
        self.sent.append(capabilities)


def run_loop(api, capabilities, recheck_every):
    stopping = threading.Event()
    thread = threading.Thread(target=registry_loop, daemon=True,
                              args=(api, "w-1", "translate", capabilities, stopping, recheck_every))
    thread.start()
    return stopping, thread


def test_a_changed_catalog_is_announced_before_the_next_heartbeat_is_due():
    assert REGISTRY_EVERY_SECONDS >= 10  # else this test would not tell the two apart
    api, catalog = RecordingApi(), {"pairs": ["en-es"]}
    stopping, thread = run_loop(api, lambda: dict(catalog), recheck_every=0.05)
    try:
        wait_for(lambda: api.sent == [{"pairs": ["en-es"]}], timeout=5, message="the first announcement")
        catalog["pairs"] = ["en-es", "la-en"]
        wait_for(lambda: api.sent[-1] == {"pairs": ["en-es", "la-en"]}, timeout=5,
                 message="the change to be announced")
        assert api.sent == [{"pairs": ["en-es"]}, {"pairs": ["en-es", "la-en"]}]
    finally:
        stopping.set()
        thread.join(5)


def test_without_recheck_the_loop_announces_once_per_heartbeat():
    api, catalog = RecordingApi(), {"pairs": ["en-es"]}
    stopping, thread = run_loop(api, lambda: dict(catalog), recheck_every=REGISTRY_EVERY_SECONDS)
    try:
        wait_for(lambda: len(api.sent) == 1, timeout=5, message="the first announcement")
        catalog["pairs"] = ["la-en"]
        stopping.set()
        thread.join(5)
        assert api.sent == [{"pairs": ["en-es"]}]
    finally:
        stopping.set()


class ScriptedStop:
    """A ``stopping`` event that advances a fake monotonic clock by each wait, and stops after ``waits``."""

    def __init__(self, clock: list[float], waits: int):
        self.clock, self.left, self.waited = clock, waits, []

    def is_set(self):
        return self.left <= 0

    def wait(self, seconds):
        self.waited.append(seconds)
        self.clock[0] += seconds
        self.left -= 1


def test_the_beat_repeats_an_unchanged_announcement_a_second_early_at_the_latest(monkeypatch):
    from shared.worker import registry
    clock = [1000.0]
    monkeypatch.setattr(registry.time, "monotonic", lambda: clock[0])
    calls = []

    class Api:
        def heartbeat(self, worker_id, kind, capabilities):
            calls.append((clock[0], worker_id, kind, capabilities))

    # Rechecked every 14.5 s: the beat is due at 29 s (a second of slack), so the 2nd check (29 s) sends.
    stopping = ScriptedStop(clock, waits=4)
    registry_loop(Api(), "w-7", "asr", lambda: {"models": []}, stopping, recheck_every=14.5)
    assert [(at - 1000.0, worker, kind) for at, worker, kind, _ in calls] == [(0.0, "w-7", "asr"), (29.0, "w-7", "asr")]
    assert stopping.waited == [14.5, 14.5, 14.5, 14.5]
    # Never rechecked less often than the beat itself.
    stopping = ScriptedStop(clock, waits=1)
    registry_loop(Api(), "w-7", "asr", lambda: {}, stopping, recheck_every=100)
    assert stopping.waited == [REGISTRY_EVERY_SECONDS]


def test_a_failed_registration_is_logged_and_tried_again_at_the_next_check(monkeypatch, caplog):
    from shared.internal_api import ApiUnavailable
    from shared.worker import registry
    clock = [0.0]
    monkeypatch.setattr(registry.time, "monotonic", lambda: clock[0])
    tries = []

    class Api:
        def heartbeat(self, worker_id, kind, capabilities):
            tries.append(clock[0])
            if len(tries) == 1:
                raise ApiUnavailable("connection refused")

    with caplog.at_level("WARNING", logger="shared.worker.registry"):
        registry_loop(Api(), "w-8", "vision", lambda: {}, ScriptedStop(clock, waits=3), recheck_every=1)
    assert tries == [0.0, 1.0]  # retried at the next check, then not again until the beat
    assert caplog.messages == ["w-8: registration failed: connection refused"]


def test_an_unchanged_announcement_half_a_second_before_the_slack_waits_for_the_next_check(monkeypatch):
    from shared.worker import registry
    clock = [1000.0]
    monkeypatch.setattr(registry.time, "monotonic", lambda: clock[0])
    sent = []

    class Api:
        def heartbeat(self, worker_id, kind, capabilities):
            sent.append(clock[0] - 1000.0)

    # Checks at 0, 9.5, 19, 28.5 (half a second short of 29 s: not due) and 38 s.
    registry_loop(Api(), "w-7", "asr", dict, ScriptedStop(clock, waits=5), recheck_every=9.5)
    assert sent == [0.0, 38.0]


def test_a_worker_counts_as_running_while_seen_within_three_heartbeats(monkeypatch):
    from shared.worker import registry
    from tests.clock import HandClock
    clock = HandClock()
    monkeypatch.setattr(registry, "utcnow", clock)
    assert (clock.now - registry.running_since()).total_seconds() == 90.0
