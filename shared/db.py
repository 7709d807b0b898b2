"""The Flask-SQLAlchemy handle shared by every process, and the one rule for committing.

Units of work: a *service function* is one unit of work, marked ``@unit_of_work``: what it
changes is committed when it returns and rolled back when it raises. Service functions live in
the services (``services/api/jobs.py``, ``services/api/workers.py``, ``services/auth/services.py``,
the compat surfaces' service helpers, the relay's and ops' loops, which use ``with
transaction():``). Views parse, call service functions and dump; the library in ``shared/``
(jobflow, principal, webhooks, ...) only adds to the session. Nothing else calls
``session.commit()``: a test keeps it so. A unit of work called inside another one runs in a
savepoint, so the outer one still commits once, and an inner failure undoes only the inner work.
Flask-SQLAlchemy's teardown discards whatever a request leaves uncommitted (a read-only request,
a refused one).

One statement that is a whole unit of work by itself (a server-side function that checks and
writes, such as the job submit's) goes through ``execute_atomic``: alone, it runs in autocommit
mode, where PostgreSQL makes it its own transaction, in one round trip without BEGIN and COMMIT.

``database_app`` is the bare app that holds the handle, for the relay, the operator commands and tests.
"""
from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Sequence, TypeVar

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, Executable, MetaData, Row, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import Pool

from shared.config import Config

# Stable constraint names keep Alembic migrations reproducible.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Objects keep their values after commit: a view dumps what it just wrote without reloading it.
# Every request (and every relay iteration) gets a fresh session, so nothing stays stale for long.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})

# A pooled connection idle this long is pinged before use (PostgreSQL may have restarted meanwhile).
# SQLAlchemy's pool_pre_ping pings on every checkout, a round trip per request under load, where a
# connection is back in use within milliseconds; if one of those broke, its error (503) invalidates
# every connection of the pool at once, so the next requests reconnect.
PING_AFTER_IDLE_SECONDS = 1.0


@event.listens_for(Pool, "checkin")
def _note_idle_since(dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_after_idle(dbapi_connection, record, proxy) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True  # no transaction left open by the ping
        dbapi_connection.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure: the pool replaces the connection
        raise DisconnectionError(f"ping after idle failed: {exc}") from exc
    finally:
        if not dbapi_connection.closed:
            dbapi_connection.autocommit = autocommit


_IN_UNIT = "conveyor_unit_of_work"
Function = TypeVar("Function", bound=Callable)


@contextmanager
def transaction() -> Iterator[None]:
    """One unit of work: commit at the end of the block, roll back if it raises (savepoint if nested)."""
    session = db.session
    if session.info.get(_IN_UNIT):
        with session.begin_nested():
            yield
        return
    session.info[_IN_UNIT] = True
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info[_IN_UNIT] = False


def unit_of_work(function: Function) -> Function:
    """Run the service function ``function`` as one unit of work (see the module docstring)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with transaction():
            return function(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


# Set while the session's transaction has begun on a connection (it may hold locks); the session's
# own in_transaction() is true as soon as an object is added, before anything reached the database.
_DATABASE_TRANSACTION = "conveyor_database_transaction"


@event.listens_for(Session, "after_begin")
def _note_database_transaction(session: Session, transaction, connection) -> None:
    session.info[_DATABASE_TRANSACTION] = True


@event.listens_for(Session, "after_transaction_end")
def _note_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_DATABASE_TRANSACTION, None)


def execute_atomic(statement: Executable, params: Optional[dict[str, Any]] = None) -> Sequence[Row]:
    """Run one statement that is a unit of work by itself and return its rows (see the module docstring).

    Inside a unit of work, or while the request's session holds a transaction open (it may hold a
    row lock the statement would wait on), it runs in that transaction and commits with it.
    """
    session = db.session()
    if session.info.get(_IN_UNIT) or session.info.get(_DATABASE_TRANSACTION):
        with transaction():
            return session.execute(statement, params).all()
    with db.engine.connect() as connection:
        return connection.execution_options(isolation_level="AUTOCOMMIT").execute(statement, params).all()


def database_app(config: Config) -> Flask:
    """A bare Flask app holding the database, for background processes, operator commands and tests."""
    app = Flask("conveyor")
    app.config.from_object(config)
    db.init_app(app)
    return app
