"""A worker whose capabilities change (an Argos package installed) announces them at once, not on the
next 30-second heartbeat; unchanged ones are not sent again before the heartbeat is due."""
from __future__ import annotations

import threading

from shared.worker.registry import REGISTRY_EVERY_SECONDS, registry_loop
from tests.conftest import wait_for


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
