"""Live login sessions remembered per process, so a request with an access token costs no query.

A token's signature says who it was issued to, not that its login is still live: logout, a password
change or a deactivation void it at once, which took a query on every request. This cache keeps, per
(login session, user), the user's row as a query found it while the session was live, for at most
``MAX_AGE_SECONDS``, and forgets a user as soon as PostgreSQL NOTIFYs a change of the user or of one
of its sessions (migration 0008, heard through shared/pg_notify.py); a change committed by this
process forgets it at the commit itself. Nothing is cached while the listener is not connected. So a
revocation takes effect within milliseconds, and within ``MAX_AGE_SECONDS`` even if a notification
were lost.

Writes race with reads: a request that read a session before a revocation committed must not store
what it read after the revocation's notification was handled. Every forgetting bumps a generation,
and an entry is stored only if the generation is still the one read before the query.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Optional

from sqlalchemy import event
from sqlalchemy.orm import Session, make_transient_to_detached

from shared.models import AuthSession, User
from shared.pg_notify import PRINCIPAL_CHANNEL, listener_for

MAX_AGE_SECONDS = 1.0
# Past this many entries, storing one first drops the expired ones (every login is a new session).
MAX_ENTRIES = 10_000
_USER_COLUMNS = tuple(column.key for column in User.__table__.columns)


class PrincipalCache:
    def __init__(self, database_url: str):
        self._lock = threading.Lock()
        self._entries: dict[tuple[uuid.UUID, int], tuple[float, User]] = {}
        self._generation = 0
        self._listener = listener_for(database_url)
        self._listener.subscribe(PRINCIPAL_CHANNEL, self.forget_user, on_reset=self.clear)

    def generation(self) -> Optional[int]:
        """What to pass to ``put`` after the query; None while nothing may be cached (no listener)."""
        return self._generation if self._listener.connected else None

    def get(self, session_id: uuid.UUID, user_id: int) -> Optional[User]:
        """A detached copy of the user of this live session (merge it with load=False), else None."""
        entry = self._entries.get((session_id, user_id))
        if entry is None or time.monotonic() - entry[0] > MAX_AGE_SECONDS or not self._listener.connected:
            return None
        return entry[1]

    def put(self, session_id: uuid.UUID, user: User, generation: Optional[int]) -> None:
        """Remember the user of a session a query found live, unless something was forgotten since."""
        if generation is None:
            return
        snapshot = User(**{name: getattr(user, name) for name in _USER_COLUMNS})
        make_transient_to_detached(snapshot)
        now = time.monotonic()
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {key: entry for key, entry in self._entries.items()
                                 if now - entry[0] <= MAX_AGE_SECONDS}
            self._entries[(session_id, user.id)] = (now, snapshot)

    def forget_user(self, user_id: str) -> None:
        with self._lock:
            self._generation += 1
            for key in [key for key in self._entries if str(key[1]) == user_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


_caches: dict[str, PrincipalCache] = {}
_caches_lock = threading.Lock()


def cache_for(database_url: str) -> PrincipalCache:
    """This process's cache for that database."""
    cache = _caches.get(database_url)
    if cache is None or cache._listener is not listener_for(database_url):  # a forked child: its own
        with _caches_lock:
            cache = _caches[database_url] = PrincipalCache(database_url)
    return cache


# A change committed here is forgotten at its commit, without waiting for the notification.
_CHANGED = "conveyor_principal_changed"


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, flush_context) -> None:
    if any(isinstance(row, (User, AuthSession)) for row in (*session.dirty, *session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None \
            and state.bind_mapper.class_ in (User, AuthSession):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_committed_changes(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        for cache in list(_caches.values()):
            cache.clear()

