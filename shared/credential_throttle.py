"""One throttle for every guess at a credential: passwords, API keys and the seed surfaces' secrets.

Each failed guess counts against one or more *scopes*:

* ``user:<id>`` (or ``name:<typed name>`` when no account has that name, so that probing for
  accounts is throttled too): the account, whichever of its names (username, e-mail, phone) was
  typed and whichever login route (native JSON, OAuth2 form, the five seed logins) was used;
* ``user:<id>@<address>``: the account from one client address;
* ``addr:<address>``: the client address, whatever it guessed at (logins, API keys, secrets).

A scope has a number of free failures; from then on every failure doubles a "not before" time
(``LOGIN_DELAY_SECONDS``, 2x, 4x ... capped at ``LOGIN_DELAY_MAX_SECONDS``). An attempt before the
latest "not before" of its scopes is refused with 429 and Retry-After before the credential is
checked (no password hash is computed), and it does not count: an attacker cannot push a victim's
delay further by hammering. There is no hard lockout. The account scope from one address has the
fewest free failures; the account-wide scope has more, so an attacker at one address is slowed down
long before the account's owner, at another address, notices anything; only a spread attack from
many addresses delays the owner, and then only by the capped delay. A successful login clears the
account's scopes (never the address's: logging into one's own account must not buy more guesses at
others). Failures are forgotten a day after the last one.

Where the state lives: PostgreSQL, table ``credential_failures``. The auth service runs several
gunicorn processes and the API several more (API keys, the lecture worker secret), so the counts
must be shared by every process of both; an in-process limiter (flask-limiter's ``memory://``, which
this replaces) counts per process, and a Redis or memcached would be one more server to run. The
table is written with one upsert per failure on a connection of its own, so the count holds whatever
the request then does with its own transaction, and read with one indexed query per attempt in the
request's session. Scopes are stored as SHA-256 digests: a typed "name" is sometimes a password
typed in the wrong field. Guesses sent in parallel are all checked until the first failure is
written: a burst is bounded by the number of server threads, and the next failure then doubles the
delay.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, Optional

from flask import current_app, request
from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert

from shared.clock import utcnow
from shared.db import db
from shared.models import CredentialFailure, User

FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Scope:
    """One counter: its name (hashed before it is stored) and how many failures it has for free."""

    name: str
    free: int

    @property
    def key(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()


class Throttled(Exception):
    """Too many recent failures: wait ``retry_after`` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed attempts; try again in {retry_after} seconds.")
        self.retry_after = retry_after
        self.message = str(self)


def client_address() -> str:
    """The caller's address (the gateway's X-Forwarded-For is applied by ProxyFix)."""
    return request.remote_addr or "unknown"


def address_scope(address: Optional[str] = None) -> Scope:
    """The scope of every credential guessed from one client address."""
    return Scope("addr:" + (address or client_address()), current_app.config["LOGIN_FREE_FAILURES_IP"])


def account_scopes(user: Optional[User], typed_name: str, address: Optional[str] = None) -> list[Scope]:
    """The account's scopes (by user id, or by the normalised name when there is no such account)."""
    account = f"user:{user.id}" if user is not None else "name:" + typed_name.strip().lower()
    config = current_app.config
    return [Scope(account, config["LOGIN_FREE_FAILURES_ACCOUNT"]),
            Scope(f"{account}@{address or client_address()}", config["LOGIN_FREE_FAILURES"])]


def secret_scopes(secret: str, address: Optional[str] = None) -> list[Scope]:
    """The scopes of a shared secret (the seed surfaces' admin and worker tokens) guessed from one address."""
    address = address or client_address()
    return [Scope(f"secret:{secret}@{address}", current_app.config["LOGIN_FREE_FAILURES"]),
            address_scope(address)]


def check(scopes: Iterable[Scope]) -> None:
    """Raise Throttled while any of ``scopes`` is in its delay."""
    now = utcnow()
    keys = [scope.key for scope in scopes]
    if not keys:
        return
    # A read in the request's own session: no second pooled connection (with its pre-ping) on every API-key use.
    not_before = db.session.scalar(select(func.max(CredentialFailure.not_before)).where(
        CredentialFailure.key.in_(keys), CredentialFailure.last_failure_at > now - FORGET_AFTER))
    if not_before is not None and not_before > now:
        raise Throttled(max(1, math.ceil((not_before - now).total_seconds())))


def _delay(failures: int, free: int) -> Optional[timedelta]:
    if failures < free:
        return None
    config = current_app.config
    cap = config["LOGIN_DELAY_MAX_SECONDS"]
    # The exponent is bounded so that a long-running count cannot overflow the float.
    seconds = min(cap, config["LOGIN_DELAY_SECONDS"] * 2 ** min(failures - free, 40))
    return timedelta(seconds=seconds)


def record_failure(scopes: Iterable[Scope]) -> None:
    """Count one failure against each scope and set its next "not before"."""
    scopes = list(scopes)
    if not scopes:
        return
    now = utcnow()
    table = CredentialFailure.__table__
    with db.engine.begin() as connection:
        for scope in scopes:
            upsert = insert(table).values(key=scope.key, failures=1, last_failure_at=now)
            stale = table.c.last_failure_at < now - FORGET_AFTER
            upsert = upsert.on_conflict_do_update(index_elements=[table.c.key], set_={
                "failures": case((stale, 1), else_=table.c.failures + 1), "last_failure_at": now})
            failures = connection.scalar(upsert.returning(table.c.failures))
            delay = _delay(failures, scope.free)
            if delay is not None:
                connection.execute(table.update().where(table.c.key == scope.key)
                                   .values(not_before=now + delay))
        # Housekeeping on the write path: what is forgotten is removed (an indexed, usually empty delete).
        connection.execute(delete(table).where(table.c.last_failure_at < now - FORGET_AFTER))


def clear(scopes: Iterable[Scope]) -> None:
    """Forget the failures of ``scopes`` (a successful login clears its account's)."""
    keys = [scope.key for scope in scopes]
    with db.engine.begin() as connection:
        connection.execute(delete(CredentialFailure.__table__).where(CredentialFailure.key.in_(keys)))
