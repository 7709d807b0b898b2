import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from shared.config import Config
from shared.logging_setup import (
    REDACTED,
    JobIdFilter,
    JsonFormatter,
    RedactSecretsFilter,
    configure_logging,
    job_context,
    redact_secrets,
    set_job_context,
)

ROOT = Path(__file__).resolve().parents[2]


def capture() -> tuple[logging.Logger, list[str]]:
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(JobIdFilter())
    logger = logging.getLogger(f"test.{id(lines)}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, lines


def test_lines_inside_a_job_context_carry_the_job_id_as_json():
    logger, lines = capture()
    set_job_context(None)  # a request served on this thread earlier may have tagged it
    with job_context("1234"):
        logger.info("claimed by %s", "w1")
    logger.info("idle")
    first, second = (json.loads(line) for line in lines)
    assert first["job_id"] == "1234" and first["message"] == "claimed by w1" and first["level"] == "INFO"
    assert "job_id" not in second and second["logger"].startswith("test.")


def test_each_thread_keeps_its_own_job_id():
    logger, lines = capture()

    def work(job_id):
        set_job_context(job_id)
        logger.info("working")

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(json.loads(line)["job_id"] for line in lines) == ["a", "b"]


def test_exceptions_are_kept_in_the_json_line():
    logger, lines = capture()
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    entry = json.loads(lines[0])
    assert "ValueError: boom" in entry["exception"]


def test_configure_logging_takes_format_and_level_from_config(monkeypatch):
    from shared.config import Config
    from shared.logging_setup import configure_logging
    monkeypatch.setenv("CONVEYOR_LOG_FORMAT", "text")
    monkeypatch.setenv("CONVEYOR_LOG_LEVEL", "warning")
    root = logging.getLogger()
    kept_handlers, kept_level = root.handlers[:], root.level
    root.handlers = [h for h in root.handlers if not getattr(h, "_conveyor", False)]
    try:
        configure_logging(Config())
        ours = [h for h in root.handlers if getattr(h, "_conveyor", False)]
        assert len(ours) == 1 and not isinstance(ours[0].formatter, JsonFormatter)
        assert root.level == logging.WARNING
    finally:
        root.handlers, root.level = kept_handlers, kept_level


# --- S16: secrets never reach a log line --------------------------------------------------------

SECRETS = {"secret_admin_token": "adm-7Hq2Lz", "secret_worker_token": "wrk-9Kp3Xy", "api_key": "key-4Rt8Vb",
           "token": "tok-2Wn6Pj", "access_token": "acc-5Dm1Qs", "refresh_token": "ref-8Fc4Gh",
           "password": "pw-3Jk7Lm", "key": "k-6Np2Rt", "client_secret": "cs-1Zx9Cv"}


@pytest.mark.parametrize("name", SECRETS)
def test_secret_query_parameters_are_masked(name):
    line = redact_secrets(f'127.0.0.1 "GET /compat/lecture/x?page=2&{name}={SECRETS[name]}&size=5 HTTP/1.1" 200')
    assert SECRETS[name] not in line
    assert f"{name}={REDACTED}" in line and "page=2" in line and "size=5" in line


@pytest.mark.parametrize("text, secret", [
    ('{"username": "bob", "password": "pw \\" quoted"}', 'pw \\" quoted'),
    ("{'refresh_token': 'ref-1', 'page': 2}", "ref-1"),
    ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl", "eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl"),
    ("/translate?q=hi&API_KEY=abc", "abc"),
    ("/x?secret%5Fadmin%5Ftoken=pct-encoded", "pct-encoded"),
])
def test_secrets_in_json_dicts_bearer_headers_and_odd_spellings_are_masked(text, secret):
    assert secret not in redact_secrets(text)


def test_text_without_secrets_is_left_alone():
    text = "GET /api/v1/jobs?page=2&per_page=20&status=queued HTTP/1.1 ratio=1:2 {\"text\": \"hello\"}"
    assert redact_secrets(text) == text


def test_the_filter_masks_messages_arguments_and_tracebacks():
    logger, lines = capture()
    logger.handlers[0].addFilter(RedactSecretsFilter())
    logger.info("request %s", "/x?api_key=key-4Rt8Vb&page=1")
    try:
        raise ValueError("bad url /y?secret_worker_token=wrk-9Kp3Xy")
    except ValueError:
        logger.exception("failed with %r", {"password": "pw-3Jk7Lm"})
    text = "\n".join(lines)
    assert "key-4Rt8Vb" not in text and "wrk-9Kp3Xy" not in text and "pw-3Jk7Lm" not in text
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == f"request /x?api_key={REDACTED}&page=1"
    assert "ValueError" in second["exception"] and f"secret_worker_token={REDACTED}" in second["exception"]


def test_configure_logging_masks_secrets_in_every_processes_lines(monkeypatch, capfd):
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [h for h in root.handlers if not getattr(h, "_conveyor", False)]
    try:
        configure_logging(Config())
        logging.getLogger("test.anywhere").warning("callback https://h/x?token=tok-2Wn6Pj")
    finally:
        root.handlers = saved
    assert "tok-2Wn6Pj" not in capfd.readouterr().err


APP = '''
import logging
from shared.logging_setup import configure_logging

configure_logging()
LOGGER = logging.getLogger("probe")


def app(environ, start_response):
    LOGGER.warning("query was %s", environ["QUERY_STRING"])
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("failed on " + environ["QUERY_STRING"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
'''


def test_gunicorn_with_the_real_config_logs_no_secret(tmp_path):
    """A real gunicorn run (deploy/gunicorn.conf.py): access log, error log and app log hold no secret."""
    (tmp_path / "probe_app.py").write_text(APP)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_path = tmp_path / "gunicorn.log"
    env = {**os.environ, "GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "2", "CONVEYOR_LOG_FORMAT": "text"}
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                                   "--pythonpath", str(tmp_path), "--bind", f"127.0.0.1:{port}", "probe_app:app"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/up", timeout=1)
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
        for name, value in SECRETS.items():
            reply = requests.get(f"{base}/probe/{name}?page=1&{name}={value}",
                                 headers={"Referer": f"{base}/from?{name}={value}"}, timeout=5)
            assert reply.status_code == 200 and "version" not in reply.headers["Server"].lower()
            assert not any(ch.isdigit() for ch in reply.headers["Server"])
        assert requests.get(f"{base}/boom?api_key={SECRETS['api_key']}", timeout=5).status_code == 500
    finally:
        server.terminate()
        server.wait(20)
    text = log_path.read_text()
    for name, value in SECRETS.items():
        assert value not in text, name
        assert f"/probe/{name}?page=1&{name}={REDACTED}" in text  # the access line, path kept
    assert "RuntimeError" in text and "/boom" in text
