"""The worker base's job runner (shared.worker.runner) against a recording stand-in for the internal API.

How one claimed job runs, what its JobIO sends and how its end is reported. The same runner against
the real API and broker: tests/integration (test_pipeline, test_recovery, test_crashing_input).
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shared.handler import JobCancelled, PermanentError, TransientError
from shared.internal_api import ApiError, ApiUnavailable
from shared.worker import runner as runner_module
from shared.worker.runner import ClaimLost, JobRunner, RemoteJobIO

# Each test reads its own logger's records (tests/conftest.py, root_at_warning).
pytestmark = pytest.mark.usefixtures("root_at_warning")


class RecordingApi:
    """Records every call; ``cancel`` makes post_events report a cancelled job, ``error`` raises."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.cancel = False
        self.error: Exception | None = None

    def post_events(self, job_id, claim_id, events):
        self.calls.append(("events", job_id, claim_id, events))
        if self.error is not None:
            raise self.error
        return self.cancel

    def download_input(self, job_id, claim_id, dest: Path) -> Path:
        self.calls.append(("download", job_id, claim_id, dest.name))
        dest.write_bytes(b"input")
        return dest

    def upload_artifact(self, job_id, claim_id, name, path, content_type):
        self.calls.append(("artifact", job_id, claim_id, name, path.read_bytes(), content_type))

    def succeed(self, job_id, claim_id, result, progress=None):
        self.calls.append(("succeed", job_id, claim_id, result, progress))

    def fail(self, job_id, claim_id, error, transient):
        self.calls.append(("fail", job_id, claim_id, error, transient))
        if self.error is not None:
            raise self.error
        return "retrying" if transient else "failed"


@pytest.fixture
def api():
    return RecordingApi()


@pytest.fixture
def io(api, tmp_path):
    return RemoteJobIO(api, {"id": "j1", "input": {"filename": "../talk.wav"}}, "c1", tmp_path)


def events(api) -> list:
    return [call[3] for call in api.calls if call[0] == "events"]


def test_the_input_is_downloaded_once_under_its_own_base_name(io, api, tmp_path):
    path = io.input_path()
    assert path == tmp_path / "input-talk.wav" and io.input_path() == path
    assert api.calls == [("download", "j1", "c1", "input-talk.wav")]
    bare = RemoteJobIO(api, {"id": "j2"}, "c2", tmp_path)
    assert bare.input_path().name == "input-input"


def test_progress_is_sent_at_most_every_quarter_second_counted_from_the_start(api, tmp_path, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(runner_module.time, "monotonic", lambda: now[0])
    io = RemoteJobIO(api, {"id": "j1"}, "c1", tmp_path)
    io.progress(1, 10, "pages")  # as the job starts: held back
    now[0] += 0.24
    io.progress(2, 10, "pages")  # still held back
    assert events(api) == []
    now[0] += 0.01
    io.progress(3, 10, "pages")  # a quarter second after the start
    io.progress(4, 10, "pages")
    io.progress(10, 10, "pages")  # the last step too waits for the throttle (or for the result)
    assert events(api) == [[{"type": "progress", "current": 3, "total": 10, "unit": "pages"}]]
    assert io.take_pending_progress() == {"type": "progress", "current": 10, "total": 10, "unit": "pages"}
    assert io.take_pending_progress() is None
    io.progress(6, 10, "pages")
    io.flush()
    io.flush()  # nothing pending: nothing sent
    assert [batch[0]["current"] for batch in events(api)] == [3, 6]


def test_a_chunk_carries_the_progress_held_back(api, tmp_path, monkeypatch):
    monkeypatch.setattr(runner_module.time, "monotonic", lambda: 50.0)
    io = RemoteJobIO(api, {"id": "j1"}, "c1", tmp_path)
    io.progress(1, 10, "s")
    io.progress(2, 10, "s")
    io.chunk(0, {"text": "hola"})
    io.chunk(1, {"text": "adiós"})
    assert events(api) == [
        [{"type": "chunk", "seq": 0, "data": {"text": "hola"}},
         {"type": "progress", "current": 2, "total": 10, "unit": "s"}],
        [{"type": "chunk", "seq": 1, "data": {"text": "adiós"}}]]
    io.flush()
    assert len(events(api)) == 2


def test_logs_heartbeats_and_artifacts_go_to_the_api(io, api, tmp_path):
    io.log("loaded model")
    io.heartbeat()
    artifact = tmp_path / "out.srt"
    artifact.write_bytes(b"1\n")
    io.add_artifact("out.srt", artifact, "application/x-subrip")
    assert api.calls == [("events", "j1", "c1", [{"type": "log", "message": "loaded model"}]),
                         ("events", "j1", "c1", [{"type": "heartbeat"}]),
                         ("artifact", "j1", "c1", "out.srt", b"1\n", "application/x-subrip")]


def test_a_cancelled_job_stops_at_its_next_report(io, api):
    io.check_cancelled()
    api.cancel = True
    with pytest.raises(JobCancelled):
        io.log("one more line")
    assert io.cancelled.is_set()
    api.cancel = False
    with pytest.raises(JobCancelled):
        io.check_cancelled()


@pytest.mark.parametrize("status", [404, 409])
def test_a_claim_taken_over_or_a_deleted_job_is_a_lost_claim(io, api, status):
    api.error = ApiError(status, "gone")
    with pytest.raises(ClaimLost, match=f"^{status}: gone$"):
        io.log("x")


def test_other_api_errors_pass_through(io, api):
    api.error = ApiError(400, "bad event")
    with pytest.raises(ApiError, match="bad event"):
        io.log("x")


def run(api, handler, job=None) -> list[Path]:
    """Execute ``handler`` on a job; return the work directories it saw (all removed by now)."""
    seen = []

    def recording(job, io):
        seen.append(io.workdir)
        assert io.workdir.is_dir()
        return handler(job, io)
    JobRunner(api, recording).execute(job or {"id": "j1", "lease_seconds": 60, "attempt": 1}, "c1")
    assert seen and not any(path.exists() for path in seen)
    assert all(path.name.startswith(f"conveyor-{(job or {'id': 'j1'})['id']}-") for path in seen)
    return seen


def test_a_quick_jobs_last_progress_goes_with_its_result(api, monkeypatch):
    monkeypatch.setattr(runner_module.time, "monotonic", lambda: 7.0)

    def handler(job, io):
        assert (job["id"], io.job_id, io.claim_id) == ("j1", "j1", "c1")
        io.progress(1, 3, "steps")
        io.progress(2, 3, "steps")
        return {"text": "done"}
    run(api, handler)
    assert api.calls == [("succeed", "j1", "c1", {"text": "done"},
                          {"type": "progress", "current": 2, "total": 3, "unit": "steps"})]


def test_a_longer_jobs_progress_is_sent_as_it_goes_and_the_rest_with_its_result(api, monkeypatch):
    now = [7.0]
    monkeypatch.setattr(runner_module.time, "monotonic", lambda: now[0])

    def handler(job, io):
        now[0] += 0.3
        io.progress(1, 3, "steps")
        io.progress(2, 3, "steps")
        return {"text": "done"}
    run(api, handler)
    assert [call[0] for call in api.calls] == ["events", "succeed"]
    assert api.calls[0][3] == [{"type": "progress", "current": 1, "total": 3, "unit": "steps"}]
    assert api.calls[1][4] == {"type": "progress", "current": 2, "total": 3, "unit": "steps"}


@pytest.mark.parametrize("raised, reported", [
    (PermanentError("unreadable file"), ("fail", "j1", "c1", "unreadable file", False)),
    (TransientError("engine busy"), ("fail", "j1", "c1", "engine busy", True)),
    (ZeroDivisionError("oops"), ("fail", "j1", "c1", "internal error (ZeroDivisionError)", True)),
])
def test_a_failure_is_reported_as_permanent_or_transient(api, raised, reported):
    def handler(job, io):
        raise raised
    run(api, handler)
    assert api.calls == [reported]


@pytest.mark.parametrize("raised", [JobCancelled(), ClaimLost("409: taken over"), ApiError(500, "x"),
                                    ApiUnavailable("down")])
def test_a_cancelled_job_a_lost_claim_or_an_unreachable_api_reports_nothing(api, raised):
    def handler(job, io):
        raise raised
    run(api, handler)
    assert api.calls == []


def test_a_failure_that_cannot_be_reported_is_logged(api, caplog):
    api.error = ApiUnavailable("down")

    def handler(job, io):
        raise PermanentError("bad")
    with caplog.at_level("ERROR", logger="shared.worker.runner"):
        run(api, handler)
    assert caplog.messages == ["job j1: could not report failure (down)"]


def test_the_lease_is_renewed_a_third_of_the_way_through_it_until_the_job_ends(api, io):
    done = threading.Event()
    waits = []

    def wait(seconds):
        waits.append(seconds)
        return len(waits) > 2
    done.wait = wait
    JobRunner(api, None)._renew_until(io, done, 30)
    assert waits == [10.0, 10.0, 10.0]
    assert events(api) == [[{"type": "heartbeat"}], [{"type": "heartbeat"}]]
    short = threading.Event()
    short_waits = []
    short.wait = lambda seconds: short_waits.append(seconds) or True
    JobRunner(api, None)._renew_until(io, short, 0.3)
    assert short_waits == [0.2]  # never more often than five times a second


def test_renewal_stops_when_the_claim_is_lost_or_the_job_cancelled(api, io):
    done = threading.Event()
    done.wait = lambda seconds: False
    api.error = ApiError(409, "taken over")
    JobRunner(api, None)._renew_until(io, done, 3)
    assert io.cancelled.is_set() and len(events(api)) == 1
    with pytest.raises(ClaimLost, match="^409: taken over$"):
        io.check_cancelled()  # the handler's next report learns the claim is lost, not a cancel
    api.error, api.cancel = None, True
    fresh = RemoteJobIO(api, {"id": "j1"}, "c1", Path("."))
    JobRunner(api, None)._renew_until(fresh, done, 3)
    assert len(events(api)) == 2


def test_renewal_goes_on_through_an_unreachable_api(api, io):
    done = threading.Event()
    calls = []

    def wait(seconds):
        calls.append(seconds)
        return len(calls) > 2
    done.wait = wait
    api.error = ApiUnavailable("down")
    JobRunner(api, None)._renew_until(io, done, 3)
    assert len(events(api)) == 2 and not io.cancelled.is_set()


@pytest.mark.parametrize("raised, logged", [
    (None, "job j1: succeeded in 0.00s"),
    (JobCancelled(), "job j1: cancelled by its owner; stopped"),
    (ClaimLost("409: taken over"), "job j1: claim lost (409: taken over); stopped"),
    (ApiUnavailable("down"), "job j1: API failure (down); the lease will hand the job back"),
    (PermanentError("unreadable"), "job j1: failed (permanent, unreadable) -> failed"),
    (TransientError("busy"), "job j1: failed (transient, busy) -> retrying"),
    (KeyError("k"), "job j1: failed (transient, internal error (KeyError)) -> retrying"),
])
def test_each_end_of_a_job_is_logged(api, caplog, monkeypatch, raised, logged):
    monkeypatch.setattr(runner_module.time, "monotonic", lambda: 5.0)

    def handler(job, io):
        if raised is not None:
            raise raised
        return {}
    with caplog.at_level("INFO", logger="shared.worker.runner"):
        run(api, handler, {"id": "j1", "attempt": 2, "lease_seconds": 60})
    assert caplog.messages[0] == "job j1: started (attempt 2)"
    assert caplog.messages[-1] == logged


def test_an_unexpected_error_is_logged_with_its_traceback(api, caplog):
    def handler(job, io):
        raise KeyError("k")
    with caplog.at_level("ERROR", logger="shared.worker.runner"):
        run(api, handler)
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == "job j1: unexpected error" and record.exc_info[0] is KeyError


def test_the_lease_is_renewed_while_the_handler_runs(api):
    renewed = threading.Event()

    def handler(job, io):
        # lease_seconds 0.3: the renewal thread beats every 0.2 s, inside this job's context
        assert renewed.wait(10), "no heartbeat while the handler ran"
        return {}
    original = api.post_events

    def post_events(job_id, claim_id, events):
        if events == [{"type": "heartbeat"}] and threading.current_thread().name == "lease-j1":
            renewed.set()
        return original(job_id, claim_id, events)
    api.post_events = post_events
    run(api, handler, {"id": "j1", "lease_seconds": 0.3})
    assert ("succeed", "j1", "c1", {}, None) in api.calls


def test_a_heartbeat_failure_is_logged_and_a_lost_claim_stops_the_renewal(api, io, caplog):
    done = threading.Event()
    done.wait = lambda seconds: False
    api.error = ApiError(404, "no such job")
    with caplog.at_level("WARNING", logger="shared.worker.runner"):
        JobRunner(api, None)._renew_until(io, done, 3)
    assert caplog.messages == ["job j1: heartbeat failed (404: no such job)"]


@pytest.mark.parametrize("status, logged", [
    (409, "job j1: claim lost (result refused: 409: taken over); stopped"),
    (404, "job j1: claim lost (result refused: 404: taken over); stopped"),
    (500, "job j1: API failure (500: taken over); the lease will hand the job back"),
])
def test_a_result_the_api_refuses_is_a_lost_claim_only_when_the_job_was_taken_over_or_deleted(
        api, caplog, monkeypatch, status, logged):
    def succeed(job_id, claim_id, result, progress=None):
        api.calls.append(("succeed", job_id, claim_id, result))
        raise ApiError(status, "taken over")

    api.succeed = succeed
    with caplog.at_level("INFO", logger="shared.worker.runner"):
        run(api, lambda job, io: {"n": 1})
    assert api.calls == [("succeed", "j1", "c1", {"n": 1})]  # nothing else reported: no fail, no retry
    assert caplog.messages[-1] == logged
