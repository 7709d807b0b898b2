"""`conveyor`'s exit codes, its reading of --text -, and the checks made before anything is sent."""

from __future__ import annotations

import io
import json

import pytest

from conveyor_cli import commands, main
from conveyor_cli.errors import ApiError

JOB_ID = "0b6f0bd2-4a52-4f55-a3a4-2f0c1f5d2a11"
JOB = {"id": JOB_ID, "kind": "translate", "number": 3, "status": "queued", "artifacts": []}


class FakeClient:
    """The ApiClient's two methods, answering from a table of (method, path) -> value or error."""

    def __init__(self, routes: dict):
        self.routes = routes
        self.sent: list[tuple[str, str, dict]] = []
        self.base_url = "http://conveyor.test"

    def json(self, method: str, path: str, **kwargs):
        self.sent.append((method, path, kwargs))
        answer = self.routes[(method, path)]
        if isinstance(answer, Exception):
            raise answer
        return answer() if callable(answer) else answer

    def request(self, method: str, path: str, **kwargs):
        return self.json(method, path, **kwargs)


@pytest.fixture
def server(monkeypatch, tmp_path):
    """Run `main` against a FakeClient; the test fills in its routes."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    fake = FakeClient({})
    monkeypatch.setattr(main, "ApiClient", lambda url, store: fake)
    return fake


def test_submit_without_wait_prints_one_line_and_json_on_request(server, capsys):
    server.routes[("POST", "/api/v1/jobs/translate")] = JOB
    argv = ["submit", "translate", "--text", "Hi.", "--source-lang", "en", "--target-lang", "es"]
    assert main.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and f"conveyor watch {JOB_ID}" in out
    assert main.main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == JOB


def test_text_from_stdin_loses_exactly_one_trailing_newline(server, monkeypatch):
    server.routes[("POST", "/api/v1/jobs/translate")] = JOB
    monkeypatch.setattr("sys.stdin", io.StringIO("Line one.\nLine two.\n\n"))
    assert main.main(["submit", "translate", "--text", "-", "--source-lang", "en", "--target-lang", "es"]) == 0
    assert server.sent[0][2]["json"]["text"] == "Line one.\nLine two.\n"


@pytest.mark.parametrize("piped, text", [("Hola\r\n", "Hola"), ("Hola", "Hola"), ("\n", ""), ("a\n\n", "a\n")])
def test_stdin_text_strips_one_newline_whatever_its_style(piped, text):
    assert commands.stdin_text(io.StringIO(piped)) == text


def test_a_missing_local_file_is_a_usage_error_before_anything_is_sent(server, capsys):
    assert main.main(["submit", "convert", "missing.wav", "-o", "target=mp3"]) == 2
    err = capsys.readouterr().err
    assert err == "conveyor: error: No such file: missing.wav\n"
    assert server.sent == []


def test_a_folder_is_not_an_input_file(server, tmp_path, capsys):
    (tmp_path / "clips").mkdir()
    assert main.main(["submit", "convert", "clips", "-o", "target=mp3"]) == 2
    assert "Not a file: clips" in capsys.readouterr().err and server.sent == []


def test_argparse_usage_errors_exit_2(server, capsys):
    with pytest.raises(SystemExit) as exited:
        main.main(["submit", "ocr", "x.png"])
    assert exited.value.code == 2 and "invalid choice: 'ocr'" in capsys.readouterr().err
    assert main.main(["submit", "translate", "--text", "x", "--download"]) == 2


def test_an_api_refusal_is_one_line_with_the_apis_message_and_exit_1(server, capsys):
    server.routes[("POST", "/api/v1/jobs/translate")] = ApiError(
        400, "Invalid request.", {"json": {"source_lang": ["Missing data for required field."],
                                           "target_lang": ["Missing data for required field."]}})
    assert main.main(["submit", "translate", "--text", "Hi."]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err == ("conveyor: error: Invalid request. (HTTP 400): source_lang: Missing data for required "
                   "field.; target_lang: Missing data for required field.\n")


def failing_job(server, status: str, error: str) -> None:
    server.routes[("POST", "/api/v1/jobs/translate")] = JOB
    # The event stream is refused, so the job is polled: it has already ended.
    server.routes[("GET", f"/api/v1/jobs/{JOB_ID}/events")] = ApiError(503, "Stream unavailable.")
    server.routes[("GET", f"/api/v1/jobs/{JOB_ID}")] = {**JOB, "status": status, "error": error,
                                                        "progress": {"percent": 40}}


def test_a_job_that_fails_while_waited_for_exits_1_with_its_error(server, capsys):
    failing_job(server, "failed", "unsupported pair en->xx")
    argv = ["submit", "translate", "--text", "Hi.", "--source-lang", "en", "--target-lang", "xx", "--wait"]
    assert main.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[-1] == (
        f"conveyor: error: Job {JOB_ID} ended failed: unsupported pair en->xx.")


def test_a_cancelled_job_exits_1_too(server, capsys):
    failing_job(server, "cancelled", "")
    assert main.main(["watch", JOB_ID]) == 1
    assert "ended cancelled: no reason given" in capsys.readouterr().err


def test_a_finished_job_prints_its_text_and_exits_0(server, capsys):
    result = {"translated_text": "Hola.", "source_lang": "en", "target_lang": "es", "route": ["en", "es"],
              "word_count": 1, "characters": 3}
    server.routes[("GET", f"/api/v1/jobs/{JOB_ID}")] = {**JOB, "status": "succeeded"}
    server.routes[("GET", f"/api/v1/jobs/{JOB_ID}/result")] = {
        "id": JOB_ID, "status": "succeeded", "result": result, "error": None}
    assert main.main(["result", JOB_ID]) == 0
    assert capsys.readouterr().out == "Hola.\n"
    assert main.main(["result", JOB_ID, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"] == result


def test_options_needs_a_known_kind(server, capsys):
    with pytest.raises(SystemExit) as exited:
        main.main(["options", "speech"])
    assert exited.value.code == 2


def test_an_unused_path_never_overwrites(tmp_path):
    (tmp_path / "annotated.jpg").write_bytes(b"x")
    (tmp_path / "annotated-1.jpg").write_bytes(b"x")
    assert commands.unused_path(tmp_path / "annotated.jpg") == tmp_path / "annotated-2.jpg"
    assert commands.plain_name("../../etc/passwd") == "passwd" and commands.plain_name("..") is None
