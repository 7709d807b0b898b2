"""The outbox relay's batch logic (services.relay.outbox) on rows held in memory.

What is tested here is what the relay does with the rows it is given: publish in order, stop at the
first refusal, back off, hold back rows of an outage and release them when the broker confirms again,
commit what was confirmed before re-raising an interruption. Which rows the query picks (due, pending,
locked) needs PostgreSQL: tests/integration/test_outbox_relay.py and test_outbox_real_broker.py.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

import pika
import pytest
from sqlalchemy.dialects import postgresql

from services.relay import outbox
from services.relay.outbox import OutboxRelay
from shared import db as shared_db
from shared.messaging import PublishError
from tests.clock import HandClock


class Row:
    """An outbox row's fields as the relay reads and writes them."""

    def __init__(self, row_id: int, kind: str = "translate", priority: int = 5, attempts: int = 0,
                 dead_letter: bool = False):
        self.id = row_id
        self.job_id = uuid.uuid4()
        self.kind = kind
        self.priority = priority
        self.payload = {"job_id": str(self.job_id), "attempt": 1, **({"dead_letter": True} if dead_letter else {})}
        self.attempts = attempts
        self.last_error = None
        self.available_at = None
        self.sent_at = None


class Session:
    """The few session calls a batch makes: the rows it is given, what it executed, commits."""

    def __init__(self, rows):
        self.rows = rows
        self.queries = []
        self.info = {}
        self.executed = []
        self.commits = 0
        self.rollbacks = 0

    def scalars(self, query):
        self.queries.append(query)
        return type("Rows", (), {"all": lambda _: list(self.rows)})()

    def execute(self, statement):
        self.executed.append(statement)

    def commit(self):
        self.commits += 1

    def rollback(self):
        self.rollbacks += 1


class Publisher:
    """Confirms messages, or refuses them with the given cause while ``refusing`` is set."""

    def __init__(self):
        self.sent = []
        self.refusing: BaseException | None = None
        self.fail_after: int | None = None

    def publish(self, kind, payload, priority=5, dead_letter=False):
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise KeyboardInterrupt("stopped mid-batch")
        if self.refusing is not None:
            raise PublishError(f"broker refused: {self.refusing!r}") from self.refusing
        self.sent.append((kind, payload["job_id"], priority, dead_letter))


@pytest.fixture
def clock(monkeypatch):
    frozen = HandClock()
    monkeypatch.setattr(outbox, "utcnow", frozen)
    return frozen


def relay_over(monkeypatch, rows) -> tuple[OutboxRelay, Session]:
    session = Session(rows)
    fake_db = type("Db", (), {"session": session})()
    monkeypatch.setattr(outbox, "db", fake_db)
    monkeypatch.setattr(shared_db, "db", fake_db)  # transaction() commits on the same session
    app = type("App", (), {"config": {"LEASE_SECONDS": 3, "MAX_ATTEMPTS": 4, "RETRY_BACKOFF_SECONDS": 0.2}})()
    return OutboxRelay(app, Publisher()), session


def test_every_due_row_is_published_with_its_priority_and_marked_sent(monkeypatch, clock):
    rows = [Row(1, "asr", priority=9), Row(2, dead_letter=True)]
    relay, session = relay_over(monkeypatch, rows)
    assert relay.relay_batch() == 2
    assert relay.publisher.sent == [("asr", str(rows[0].job_id), 9, False),
                                    ("translate", str(rows[1].job_id), 5, True)]
    assert [row.sent_at for row in rows] == [clock.now, clock.now]
    assert (session.commits, session.rollbacks, session.executed) == (1, 0, [])


@pytest.mark.parametrize("attempts, delay", [(0, 0.25), (1, 0.5), (2, 1.0), (3, 2.0), (4, 2.0), (20, 2.0)])
def test_a_refused_row_waits_a_doubling_backoff_up_to_its_cap(monkeypatch, clock, attempts, delay):
    row = Row(1, attempts=attempts)
    relay, _ = relay_over(monkeypatch, [row])
    relay.publisher.refusing = ConnectionError("down")
    assert relay.relay_batch() == 0
    assert row.attempts == attempts + 1 and row.sent_at is None
    assert row.available_at == clock.now + timedelta(seconds=delay)
    assert row.last_error == "broker refused: ConnectionError('down')"


def test_the_first_refusal_ends_the_batch(monkeypatch, clock):
    rows = [Row(1), Row(2), Row(3)]
    relay, session = relay_over(monkeypatch, rows)
    relay.publisher.refusing = ConnectionError("down")
    assert relay.relay_batch() == 0
    assert [row.attempts for row in rows] == [1, 0, 0]  # the others keep their place and their count
    assert session.commits == 1


def test_a_long_error_is_cut_to_500_characters(monkeypatch, clock):
    row = Row(1)
    relay, _ = relay_over(monkeypatch, [row])
    relay.publisher.refusing = ConnectionError("x" * 1000)
    relay.relay_batch()
    assert len(row.last_error) == 500


def test_rows_held_back_by_an_outage_are_due_once_the_broker_confirms_again(monkeypatch, clock):
    held = Row(7)
    relay, session = relay_over(monkeypatch, [held])
    relay.publisher.refusing = ConnectionError("down")
    relay.relay_batch()
    assert relay._outage_rows == {7}
    relay.publisher.refusing = None
    session.rows = [Row(8)]
    assert relay.relay_batch() == 1
    assert relay._outage_rows == set()
    [statement] = session.executed
    compiled = statement.compile(dialect=postgresql.dialect())
    # Only the rows still pending: one another relay sent meanwhile stays as it is.
    assert str(compiled) == ("UPDATE outbox SET available_at=%(available_at)s "
                             "WHERE outbox.id IN (__[POSTCOMPILE_id_1]) AND outbox.sent_at IS NULL")
    assert compiled.params == {"available_at": clock.now, "id_1": [7]}


def test_a_batch_takes_the_due_pending_rows_best_priority_first_skipping_locked_ones(monkeypatch, clock):
    relay, session = relay_over(monkeypatch, [])
    relay.relay_batch()
    [query] = session.queries
    compiled = query.compile(dialect=postgresql.dialect())
    assert str(compiled).startswith("SELECT outbox.id, ")  # whole rows
    assert " ".join(str(compiled).split()).split(" FROM ", 1)[1] == (
        "outbox WHERE outbox.sent_at IS NULL AND outbox.available_at <= %(available_at_1)s "
        "ORDER BY outbox.priority DESC, outbox.id LIMIT %(param_1)s FOR UPDATE SKIP LOCKED")
    assert compiled.params == {"available_at_1": clock.now, "param_1": 100}


def test_the_release_of_held_back_rows_is_logged_with_their_number(monkeypatch, clock, caplog):
    relay, session = relay_over(monkeypatch, [Row(1), Row(2)])
    relay.publisher.refusing = ConnectionError("down")
    relay.relay_batch()
    session.rows = [Row(2)]
    relay.relay_batch()  # row 1 is held back too now
    relay.publisher.refusing = None
    session.rows = [Row(3)]
    with caplog.at_level("INFO", logger="services.relay.outbox"):
        relay.relay_batch()
    assert caplog.messages[-1] == "broker is back: 2 held-back outbox row(s) are due now"


def test_rows_the_broker_refused_on_purpose_are_not_an_outage(monkeypatch, clock):
    relay, session = relay_over(monkeypatch, [Row(1)])
    relay.publisher.refusing = pika.exceptions.UnroutableError([])
    relay.relay_batch()
    relay.publisher.refusing = pika.exceptions.NackError([])
    relay.relay_batch()
    assert relay._outage_rows == set()
    relay.publisher.refusing = None
    relay.relay_batch()
    assert session.executed == []  # nothing held back, nothing to release


def test_a_batch_that_confirms_nothing_releases_nothing(monkeypatch, clock):
    relay, session = relay_over(monkeypatch, [Row(1)])
    relay.publisher.refusing = ConnectionError("down")
    relay.relay_batch()
    session.rows = []
    assert relay.relay_batch() == 0
    assert relay._outage_rows == {1} and session.executed == []


def test_an_interruption_commits_the_confirmed_rows_then_propagates(monkeypatch, clock):
    rows = [Row(1), Row(2), Row(3)]
    relay, session = relay_over(monkeypatch, rows)
    relay.publisher.fail_after = 1
    with pytest.raises(KeyboardInterrupt, match="stopped mid-batch"):
        relay.relay_batch()
    assert [row.sent_at for row in rows] == [clock.now, None, None]
    assert (session.commits, session.rollbacks) == (1, 0)


def test_a_sent_row_is_logged_with_its_attempt(monkeypatch, clock, caplog):
    row = Row(1)
    row.payload["attempt"] = 2
    relay, _ = relay_over(monkeypatch, [row])
    with caplog.at_level("INFO", logger="services.relay.outbox"):
        relay.relay_batch()
    assert caplog.messages == [f"job {row.job_id}: published to translate (attempt 2)"]


def test_a_refusal_is_logged_with_the_retry_delay(monkeypatch, clock, caplog):
    row = Row(1, attempts=1)
    relay, _ = relay_over(monkeypatch, [row])
    relay.publisher.refusing = ConnectionError("down")
    with caplog.at_level("WARNING", logger="services.relay.outbox"):
        relay.relay_batch()
    assert caplog.messages == [
        f"job {row.job_id}: publish failed (broker refused: ConnectionError('down')); retry in 0.5s"]


def test_the_reaper_runs_with_the_configured_lease_attempts_and_backoff(monkeypatch):
    relay, session = relay_over(monkeypatch, [])
    asked = []
    monkeypatch.setattr(outbox.jobflow, "reap_expired_leases", lambda *args: asked.append(args) or 2)
    assert relay.reap() == 2
    assert asked == [(3, 4, 0.2)] and session.commits == 1
