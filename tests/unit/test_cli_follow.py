"""The CLI's reading of server-sent events and its fallback to polling when the stream breaks."""

from __future__ import annotations

import json

import pytest
import requests

from conveyor_cli.errors import ApiError
from conveyor_cli.follow import follow_job
from conveyor_cli.sse import ServerEvent, parse_events


def status_event(status: str, percent: float | None = None) -> bytes:
    body = json.dumps({"status": status, "progress": {"percent": percent}})
    return f"event: status\ndata: {body}\n\n".encode()


def test_events_split_across_chunks_and_crlf_lines_are_parsed():
    stream = (
        b'retry: 2000\r\n\r\n: keep-alive\n\nevent: chunk\nid: 3\ndata: {"seq"'
        + b": 3}\r\n\r\nevent: end\ndata: x\n\n"
    )
    chunks = [stream[i : i + 5] for i in range(0, len(stream), 5)]
    assert list(parse_events(chunks)) == [
        ServerEvent("chunk", '{"seq": 3}', "3"),
        ServerEvent("end", "x", "3"),
    ]


def test_multiline_data_is_joined_and_an_unnamed_event_is_a_message():
    assert list(parse_events([b"data: one\ndata: two\n\n"])) == [ServerEvent("message", "one\ntwo")]


def test_a_stream_that_reaches_the_end_needs_no_polling():
    seen = []

    def fetch_job():
        raise AssertionError("polled although the stream ended the job")

    events = parse_events(
        [status_event("running", 40), status_event("succeeded", 100), b"event: end\ndata: {}\n\n"]
    )
    assert follow_job(lambda: events, fetch_job, seen.append) == "succeeded"
    assert [update["status"] for update in seen] == ["running", "succeeded"]


def test_a_broken_stream_falls_back_to_polling_until_the_job_ends():
    def broken_stream():
        yield from parse_events([status_event("running", 10)])
        raise requests.exceptions.ChunkedEncodingError("connection reset")

    polled = iter(
        [
            {"status": "running", "progress": {"percent": 50}},
            {"status": "failed", "progress": {"percent": 50}, "error": "bad input"},
        ]
    )
    seen, sleeps = [], []
    final = follow_job(
        broken_stream, lambda: next(polled), seen.append, sleep=sleeps.append, poll_seconds=0.5
    )
    assert final == "failed"
    assert [u["status"] for u in seen] == ["running", "running", "failed"] and sleeps == [0.5]


def test_a_stream_that_closes_without_an_end_is_followed_by_polling():
    final = follow_job(
        lambda: parse_events([status_event("queued")]),
        lambda: {"status": "cancelled"},
        lambda update: None,
        sleep=lambda seconds: None,
    )
    assert final == "cancelled"


def test_a_refused_stream_is_not_hidden_behind_polling():
    def refused():
        raise ApiError(404, "Job not found.")

    with pytest.raises(ApiError, match="Job not found"):
        follow_job(refused, lambda: {"status": "succeeded"}, lambda update: None)
