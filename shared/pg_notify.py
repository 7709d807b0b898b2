"""PostgreSQL LISTEN/NOTIFY for a web process: one listening connection per process, many waiters.

Triggers (migration 0008) NOTIFY at commit when a job or a pipeline changes (``conveyor_job``,
``conveyor_pipeline``, the payload is its id) and when a user or a login session changes
(``conveyor_principal``, the payload is the user's id). A process hears them through one
``Listener`` (``listener_for(database_url)``), a daemon thread started on first use in each
process (so gunicorn's forked workers each get their own) that keeps one autocommit connection:

- ``listener.watch(channel, key)``: a ``Watch`` whose ``wait(timeout)`` returns as soon as a
  notification with that payload arrived since the last wait (event streams wake on it instead of
  polling);
- ``listener.subscribe(channel, callback)``: ``callback(payload)`` runs on the listener's thread
  (the principal cache drops a user's entries there);
- ``listener.connected``: False until the LISTENs are in place and again while the connection is
  lost, when whoever relies on notifications must not (the cache is bypassed, streams poll).
  ``subscribe(..., on_reset=...)`` is told whenever notifications may have been missed.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from typing import Callable, Optional

import psycopg
from sqlalchemy.engine import make_url

LOGGER = logging.getLogger(__name__)

JOB_CHANNEL = "conveyor_job"
PIPELINE_CHANNEL = "conveyor_pipeline"
PRINCIPAL_CHANNEL = "conveyor_principal"
CHANNELS = (JOB_CHANNEL, PIPELINE_CHANNEL, PRINCIPAL_CHANNEL)
RECONNECT_SECONDS = 1.0

Callback = Callable[[str], None]


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL of the settings as a plain libpq URL (psycopg.connect's form)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Watch:
    """Notifications of one channel and payload, for one waiter (see ``Listener.watch``)."""

    def __init__(self, listener: "Listener", key: tuple[str, str]):
        self._listener, self._key = listener, key
        self._event = threading.Event()

    def wait(self, timeout: float) -> bool:
        """Wait until a notification arrived since the last call (True) or ``timeout`` passed (False)."""
        fired = self._event.wait(timeout)
        self._event.clear()
        return fired

    def fire(self) -> None:
        self._event.set()

    def close(self) -> None:
        self._listener._forget(self)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class Listener:
    """One LISTENing connection of this process and the waiters and callbacks it serves."""

    def __init__(self, url: str):
        self._url = url
        self._lock = threading.Lock()
        self._watches: dict[tuple[str, str], set[Watch]] = defaultdict(set)
        self._callbacks: dict[str, list[Callback]] = defaultdict(list)
        self._resets: list[Callable[[], None]] = []
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listener", daemon=True)
        self._thread.start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def watch(self, channel: str, key: str) -> Watch:
        watch = Watch(self, (channel, str(key)))
        with self._lock:
            self._watches[watch._key].add(watch)
        return watch

    def _forget(self, watch: Watch) -> None:
        with self._lock:
            waiting = self._watches.get(watch._key)
            if waiting is not None:
                waiting.discard(watch)
                if not waiting:
                    del self._watches[watch._key]

    def subscribe(self, channel: str, callback: Callback, on_reset: Optional[Callable[[], None]] = None) -> None:
        with self._lock:
            self._callbacks[channel].append(callback)
            if on_reset is not None:
                self._resets.append(on_reset)

    def _dispatch(self, channel: str, payload: str) -> None:
        with self._lock:
            watches = list(self._watches.get((channel, payload), ()))
            callbacks = list(self._callbacks.get(channel, ()))
        for watch in watches:
            watch.fire()
        for callback in callbacks:
            callback(payload)

    def _reset(self) -> None:
        """Notifications may have been missed: wake every waiter and tell every subscriber."""
        with self._lock:
            watches = [watch for group in self._watches.values() for watch in group]
            resets = list(self._resets)
        for watch in watches:
            watch.fire()
        for reset in resets:
            reset()

    def _run(self) -> None:
        failures = 0
        while True:
            try:
                with psycopg.connect(self._url, autocommit=True) as connection:
                    for channel in CHANNELS:
                        connection.execute(f"LISTEN {channel}")
                    failures = 0
                    self._connected.set()
                    self._reset()  # what changed before the LISTENs went unheard: look again
                    for notify in connection.notifies():
                        self._dispatch(notify.channel, notify.payload)
            except Exception as exc:  # noqa: BLE001 - a lost database must not end the listener
                failures += 1
                # Once per outage: while the database stays away, every second would say it again.
                LOGGER.log(logging.WARNING if failures == 1 else logging.DEBUG,
                           "notification listener lost its connection (%s); reconnecting every %.0f s",
                           exc.__class__.__name__, RECONNECT_SECONDS)
            finally:
                self._connected.clear()
                self._reset()
            threading.Event().wait(RECONNECT_SECONDS)


_listeners: dict[tuple[int, str], Listener] = {}
_listeners_lock = threading.Lock()


def listener_for(database_url: str) -> Listener:
    """This process's listener on that database (started on first use; a forked child starts its own)."""
    key = (os.getpid(), database_url)
    listener = _listeners.get(key)
    if listener is None:
        with _listeners_lock:
            listener = _listeners.get(key)
            if listener is None:
                listener = _listeners[key] = Listener(libpq_url(database_url))
    return listener
