"""The `conveyor` CLI run as a subprocess against the real stack (scripts/up.sh on free ports)."""

from __future__ import annotations

import json
import math
import os
import stat
import struct
import subprocess
import sys
import uuid
import wave
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-42"
SENTENCE = "The cat is black. I would like a cup of coffee."


class Cli:
    """`python -m conveyor_cli` with its own HOME and config directory, run in a scratch one."""

    def __init__(self, base: str, home: Path):
        self.home = home
        self.workdir = home / "work"
        self.workdir.mkdir(parents=True)
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "CONVEYOR_URL": base,
            "PYTHONPATH": str(ROOT),
            "COLUMNS": "100",
        }

    @property
    def credentials(self) -> Path:
        return self.home / "config" / "conveyor" / "credentials.json"

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "conveyor_cli", *args],
            cwd=self.workdir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )


def expected_failure(run: subprocess.CompletedProcess, code: int) -> str:
    """The one-line error of a refused command; a traceback or another exit code fails the test."""
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == code, (run.returncode, run.stdout, run.stderr)
    return run.stderr


@pytest.fixture(scope="module")
def account(stack):
    name = f"cli{uuid.uuid4().hex[:8]}"
    reply = requests.post(
        f"{stack['base']}/auth/v1/register",
        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
    )
    assert reply.status_code == 201, reply.text
    return name


@pytest.fixture(scope="module")
def cli(stack, account, tmp_path_factory):
    """A CLI logged in as ``account`` (by e-mail, to show that both names work)."""
    run = Cli(stack["base"], tmp_path_factory.mktemp("cli-home"))
    login = run("login", "--username", f"{account}@example.com", "--password", PASSWORD)
    assert login.returncode == 0, login.stderr
    assert f"as {account}" in login.stderr
    return run


@pytest.fixture(scope="module")
def translated(cli):
    """A translation submitted with --wait: the finished run and the job's id."""
    run = cli(
        "submit",
        "translate",
        "--text",
        SENTENCE,
        "--source-lang",
        "en",
        "--target-lang",
        "es",
        "--wait",
    )
    assert run.returncode == 0, run.stderr
    output = json.loads(run.stdout)
    return run, output


def tone_wav(path: Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    """A short 440 Hz tone, the smallest real audio a conversion accepts."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


def test_login_keeps_the_tokens_in_a_file_only_its_owner_can_read(cli):
    stored = json.loads(cli.credentials.read_text())
    login = stored["servers"][stored["current"]]
    assert login["access_token"] and login["refresh_token"]
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.credentials.parent.stat().st_mode) == 0o700


def test_a_wrong_password_is_refused_with_the_apis_message(stack, account, tmp_path):
    stranger = Cli(stack["base"], tmp_path)
    run = stranger("login", "-u", account, "-p", "not-the-password-1")
    message = expected_failure(run, 1)
    assert "Incorrect username or password" in message and "HTTP 401" in message
    assert not run.stdout and not stranger.credentials.exists()


def test_submit_wait_shows_a_progress_bar_and_prints_the_spanish_translation(translated):
    run, output = translated
    assert output["status"] == "succeeded"
    text = output["result"]["translated_text"].lower()
    assert "gato" in text and "café" in text
    bar = run.stderr.replace("\r", "\n").splitlines()
    assert any("succeeded" in line and "100%" in line and "|" in line for line in bar), run.stderr


def test_list_shows_the_job(cli, translated):
    job_id = translated[1]["id"]
    run = cli("list", "--kind", "translate")
    assert run.returncode == 0, run.stderr
    line = next(line for line in run.stdout.splitlines() if line.startswith(job_id))
    assert "succeeded" in line and "100%" in line
    assert (
        json.loads(cli("list", "--status", "succeeded", "--json").stdout)["items"][0]["id"]
        == job_id
    )


def test_result_prints_the_result_as_json(cli, translated):
    run = cli("result", translated[1]["id"])
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["result"] == translated[1]["result"]


def test_export_txt_writes_the_translation_to_a_file(cli, translated):
    job_id = translated[1]["id"]
    run = cli("export", job_id, "--format", "txt", "-O", "out.txt")
    assert run.returncode == 0, run.stderr
    assert (cli.workdir / "out.txt").read_text() == translated[1]["result"]["translated_text"]
    unnamed = cli("export", job_id, "--format", "json")
    saved = next(cli.workdir.glob("translate-*.json"))
    assert unnamed.returncode == 0 and saved.name in unnamed.stderr
    assert (
        json.loads(saved.read_text())["translated_text"]
        == translated[1]["result"]["translated_text"]
    )


def test_cancelling_a_finished_job_fails_with_a_clear_message(cli, translated):
    message = expected_failure(cli("cancel", translated[1]["id"]), 1)
    assert "Cannot cancel" in message and "HTTP 409" in message


def test_an_unknown_export_format_lists_the_ones_offered(cli, translated):
    message = expected_failure(cli("export", translated[1]["id"], "--format", "docx"), 1)
    assert "txt" in message and "json" in message


def test_an_expired_access_token_is_refreshed_once_and_stored(cli):
    stored = json.loads(cli.credentials.read_text())
    server = stored["current"]
    old_refresh = stored["servers"][server]["refresh_token"]
    stored["servers"][server]["access_token"] = "expired.or.forged"
    cli.credentials.write_text(json.dumps(stored))
    run = cli("list")
    assert run.returncode == 0, run.stderr
    renewed = json.loads(cli.credentials.read_text())["servers"][server]
    assert (
        renewed["access_token"] != "expired.or.forged" and renewed["refresh_token"] != old_refresh
    )
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600


def test_a_submitted_job_can_be_watched_then_deleted(cli):
    submitted = cli(
        "submit",
        "translate",
        "--text",
        "Good morning.",
        "--source-lang",
        "en",
        "--target-lang",
        "es",
        "--priority",
        "high",
    )
    job = json.loads(submitted.stdout)
    assert job["priority"] == "high"
    watched = cli("watch", job["id"])
    assert watched.returncode == 0, watched.stderr
    assert json.loads(watched.stdout)["result"]["translated_text"].strip()
    deleted = cli("delete", job["id"])
    assert deleted.returncode == 0, deleted.stderr
    assert "Job not found" in expected_failure(cli("status", job["id"]), 1)


def test_a_file_is_converted_and_its_input_and_artifact_download(cli, tmp_path):
    tone = tone_wav(tmp_path / "tone.wav")

    def submitted():
        run = cli(
            "submit", "convert", str(tone), "-o", "target=mp3", "-o", "audio_bitrate=64k", "--wait"
        )
        # The convert worker may still be starting when the translate one already answers.
        return None if "No convert worker" in run.stderr else run

    run = wait_for(submitted, timeout=40, interval=1, message="a convert worker")
    assert run.returncode == 0, run.stderr
    finished = json.loads(run.stdout)
    artifact = finished["result"]["artifact"]
    assert cli("download", finished["id"], "-O", "copy.wav").returncode == 0
    assert (cli.workdir / "copy.wav").read_bytes() == tone.read_bytes()
    assert cli("download", finished["id"], artifact, "-O", "tone.mp3").returncode == 0
    mp3 = (cli.workdir / "tone.mp3").read_bytes()
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF


def test_bad_options_and_missing_files_are_usage_errors(cli):
    assert "not key=value" in expected_failure(cli("submit", "convert", "x.wav", "-o", "target"), 2)
    assert "No such file" in expected_failure(
        cli("submit", "convert", "missing.wav", "-o", "target=mp3"), 2
    )


def test_an_api_key_login_works_without_tokens(stack, account, tmp_path):
    token = requests.post(
        f"{stack['base']}/auth/v1/login", json={"username": account, "password": PASSWORD}
    ).json()["access_token"]
    key = requests.post(
        f"{stack['base']}/auth/v1/api-keys",
        json={"name": "cli-test"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["key"]
    run = Cli(stack["base"], tmp_path)
    assert run("login", "--api-key", key).returncode == 0
    assert "access_token" not in run.credentials.read_text()
    listed = run("list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["total"] >= 1


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    run = Cli("http://127.0.0.1:9", tmp_path)("login", "-u", "someone", "-p", "whatever-1234")
    assert "Cannot reach http://127.0.0.1:9" in expected_failure(run, 3)
