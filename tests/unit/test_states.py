import pytest

from shared.states import (
    ACTIVE,
    TERMINAL,
    InvalidTransition,
    JobStatus,
    can_transition,
    check_transition,
    stopped_status,
)


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
@pytest.mark.parametrize("target", list(JobStatus))
def test_nothing_leaves_a_terminal_state(terminal, target):
    assert not can_transition(terminal, target)
    with pytest.raises(InvalidTransition):
        check_transition(terminal, target)


@pytest.mark.parametrize("start, end", [
    ("queued", "running"), ("queued", "cancelled"), ("running", "succeeded"), ("running", "retrying"),
    ("running", "partial"), ("running", "failed"), ("retrying", "running"), ("retrying", "cancelled"),
    ("running", "running"),
])
def test_the_life_of_a_job_is_allowed(start, end):
    assert check_transition(start, end) == JobStatus(end)


@pytest.mark.parametrize("start, end", [("queued", "succeeded"), ("queued", "retrying"),
                                        ("retrying", "succeeded"), ("queued", "partial")])
def test_skipping_the_running_state_is_refused(start, end):
    assert not can_transition(start, end)


def test_every_state_is_either_active_or_terminal():
    assert ACTIVE | TERMINAL == set(JobStatus)
    assert not ACTIVE & TERMINAL


def test_a_stopped_job_is_partial_only_when_chunks_were_kept():
    assert stopped_status(0) is JobStatus.CANCELLED
    assert stopped_status(3) is JobStatus.PARTIAL


def test_waiting_jobs_are_the_active_ones_no_worker_holds():
    from shared.states import ACTIVE, WAITING, is_active, is_waiting, values

    assert values(WAITING) == ["queued", "retrying"]
    assert values(ACTIVE) == ["queued", "retrying", "running"]
    assert is_waiting("retrying") and not is_waiting("running") and is_active("running")
    assert not is_active("partial")


# Every transition the state machine allows, written out: any pair not listed here must be refused.
ALLOWED_PAIRS = {
    ("queued", "running"), ("queued", "cancelled"), ("queued", "failed"),
    ("running", "running"), ("running", "retrying"), ("running", "succeeded"), ("running", "partial"),
    ("running", "failed"), ("running", "cancelled"),
    ("retrying", "running"), ("retrying", "failed"), ("retrying", "cancelled"), ("retrying", "partial"),
}


@pytest.mark.parametrize("start", [status.value for status in JobStatus])
@pytest.mark.parametrize("end", [status.value for status in JobStatus])
def test_the_transition_table_is_exactly_the_documented_one(start, end):
    assert can_transition(start, end) is ((start, end) in ALLOWED_PAIRS)


def test_a_running_job_can_be_cancelled():
    """The boundary a deliberate bug survived: cancel while a worker holds the job."""
    assert check_transition("running", "cancelled") is JobStatus.CANCELLED


def test_a_refused_transition_names_both_states():
    with pytest.raises(InvalidTransition) as refused:
        check_transition("succeeded", JobStatus.RUNNING)
    assert str(refused.value) == "a succeeded job cannot become running"
