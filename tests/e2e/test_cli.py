"""The `conveyor` CLI run as a subprocess against the real stack (scripts/up.sh on free ports)."""

from __future__ import annotations

import fcntl
import json
import math
import os
import pty
import select
import stat
import struct
import subprocess
import sys
import termios
import time
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


def announced_id(stderr: str) -> str:
    """The job id from the "Job ID (kind #n) is queued." line that `submit --wait` starts with."""
    line = next(line for line in stderr.splitlines() if line.startswith("Job "))
    return line.split()[1]


@pytest.fixture(scope="module")
def translated(cli):
    """A translation submitted with --wait: the finished run and the job's result as the API gives it."""
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
    shown = cli("result", announced_id(run.stderr), "--json")
    assert shown.returncode == 0, shown.stderr
    return run, json.loads(shown.stdout)


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
    text = output["result"]["translated_text"]
    assert "gato" in text.lower() and "café" in text.lower()
    assert run.stdout == text + "\n"  # the translation alone: what a person asked for, pipeable
    bar = run.stderr.replace("\r", "\n").splitlines()
    assert any("succeeded" in line and "100%" in line and "|" in line for line in bar), run.stderr


def test_list_shows_the_job(cli, translated):
    job_id = translated[1]["id"]
    run = cli("list", "--kind", "translate")
    assert run.returncode == 0, run.stderr
    line = next(line for line in run.stdout.splitlines() if line.startswith(job_id))
    assert "succeeded" in line and "100%" in line
    # Other tests of the module submit jobs too, in any order: the filter is what is checked here.
    listed = json.loads(cli("list", "--status", "succeeded", "--json").stdout)["items"]
    assert job_id in [item["id"] for item in listed]
    assert {item["status"] for item in listed} == {"succeeded"}


def test_result_prints_the_translation_and_json_on_request(cli, translated):
    run = cli("result", translated[1]["id"])
    assert run.returncode == 0, run.stderr
    assert run.stdout == translated[1]["result"]["translated_text"] + "\n"
    as_json = cli("result", translated[1]["id"], "--json")
    assert json.loads(as_json.stdout)["result"]["route"] == ["en", "es"]


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


def test_a_submitted_job_is_one_line_and_can_be_watched_then_deleted(cli):
    submitted = cli(
        "submit",
        "translate",
        "--text",
        "-",
        "--source-lang",
        "en",
        "--target-lang",
        "es",
        "--priority",
        "high",
        stdin="Good morning.\n",
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id, kind, number, status = submitted.stdout.split()[:4]
    assert submitted.stdout.count("\n") == 1 and (kind, status) == ("translate", "queued")
    assert f"conveyor watch {job_id}" in submitted.stdout and number.startswith("#")
    job = json.loads(cli("status", job_id, "--json").stdout)
    # The newline that ends what was piped in is not part of the text.
    assert job["priority"] == "high" and job["params"]["text"] == "Good morning."
    watched = cli("watch", job_id)
    assert watched.returncode == 0, watched.stderr
    assert "buenos" in watched.stdout.lower() and watched.stdout.count("\n") == 1
    deleted = cli("delete", job_id)
    assert deleted.returncode == 0, deleted.stderr
    assert "Job not found" in expected_failure(cli("status", job_id), 1)


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
    # --wait saves the converted file here and prints its path; the summary goes to stderr.
    assert run.stdout == "tone.mp3\n" and "tone.mp3 (mp3, " in run.stderr
    mp3 = (cli.workdir / "tone.mp3").read_bytes()
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF
    finished = json.loads(cli("result", announced_id(run.stderr), "--json").stdout)
    artifact = finished["result"]["artifact"]
    assert cli("download", finished["id"], "-O", "copy.wav").returncode == 0
    assert (cli.workdir / "copy.wav").read_bytes() == tone.read_bytes()
    assert cli("download", finished["id"], artifact, "-O", "again.mp3").returncode == 0
    assert (cli.workdir / "again.mp3").read_bytes() == mp3
    # Saving into a folder that already holds the file keeps both.
    saved = cli("result", finished["id"], "--download", "out")
    again = cli("result", finished["id"], "--download", "out")
    assert saved.stdout.splitlines()[-1] == str(Path("out") / "tone.mp3")
    assert again.stdout.splitlines()[-1] == str(Path("out") / "tone-1.mp3")
    assert (cli.workdir / "out" / "tone-1.mp3").read_bytes() == mp3


def test_bad_options_and_missing_files_are_usage_errors(cli):
    assert "not key=value" in expected_failure(cli("submit", "convert", "x.wav", "-o", "target"), 2)
    assert "No such file" in expected_failure(
        cli("submit", "convert", "missing.wav", "-o", "target=mp3"), 2
    )


def test_an_api_key_login_works_without_tokens(stack, account, translated, tmp_path):
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
    listed = run("list", "--json")  # the account's translation (whatever ran before) is there
    assert listed.returncode == 0
    assert translated[1]["id"] in [item["id"] for item in json.loads(listed.stdout)["items"]]


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    run = Cli("http://127.0.0.1:9", tmp_path)("login", "-u", "someone", "-p", "whatever-1234")
    assert "Cannot reach http://127.0.0.1:9" in expected_failure(run, 3)


def test_kinds_lists_the_four_kinds_one_line_each(cli):
    run = cli("kinds")
    assert run.returncode == 0, run.stderr
    assert [line.split()[0] for line in run.stdout.splitlines()] == ["translate", "asr", "vision", "convert"]
    assert [entry["kind"] for entry in json.loads(cli("kinds", "--json").stdout)] == [
        "translate", "asr", "vision", "convert"]


def test_options_of_translate_lists_the_live_pairs_with_their_pivots(stack, cli):
    pairs = requests.get(f"{stack['base']}/api/v1/languages").json()["pairs"]
    run = cli("options", "translate")
    assert run.returncode == 0, run.stderr
    assert "--source-lang" in run.stdout and "(required)" in run.stdout
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if " -> " in line}
    for pair in pairs:
        shown = pair["target"] + (f" (via {'+'.join(pair['via'])})" if pair["via"] else "")
        assert shown in rows[pair["source"]].split(" -> ", 1)[1].split(", "), (pair, rows[pair["source"]])
    assert json.loads(cli("options", "translate", "--json").stdout)["pairs"] == pairs


def test_options_of_convert_lists_the_live_targets_with_their_inputs_and_options(stack, cli):
    reported = requests.get(f"{stack['base']}/api/v1/models").json()["convert"]
    run = cli("options", "convert")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    rows = {line.split()[0]: line for line in lines[lines.index("Targets (-o target=NAME):") + 1:]}
    assert set(rows) == {target["id"] for target in reported} >= {"mp3", "mp4", "png", "webp"}
    assert rows["webp"].endswith("options: at, width, height, quality")
    assert "-o audio_bitrate=" in run.stdout
    assert json.loads(cli("options", "convert", "--json").stdout)["targets"] == reported


def model_ids(stdout: str) -> set[str]:
    """The first word of each line under a "... models (-o ...=ID):" heading."""
    ids, listing = set(), False
    for line in stdout.splitlines():
        if not line.startswith("  "):
            listing = "models (-o" in line.lower()
        elif listing:
            ids.add(line.split()[0])
    return ids


def test_options_of_vision_lists_the_live_models(stack, cli):
    models = wait_for(lambda: requests.get(f"{stack['base']}/api/v1/models").json().get("vision"),
                      timeout=60, interval=1, message="vision models")
    run = cli("options", "vision")
    assert run.returncode == 0, run.stderr
    assert "(-o detection_model_id=ID)" in run.stdout and "-o score_threshold=" in run.stdout
    assert model_ids(run.stdout) == {str(model["id"]) for model in models}


def test_options_of_asr_lists_what_the_models_endpoint_lists(stack, cli):
    # The stack's data directory may hold no speech model: then the CLI says so instead of a list.
    models = requests.get(f"{stack['base']}/api/v1/models").json().get("asr") or []
    run = cli("options", "asr")
    assert run.returncode == 0, run.stderr
    assert "-o language=" in run.stdout
    assert model_ids(run.stdout) == {model["id"] for model in models}
    assert models or "No running asr worker reports models now." in run.stdout


def test_vision_wait_prints_the_class_and_detections_and_downloads_the_annotated_image(cli, tmp_path):
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (320, 240), "white")
    ImageDraw.Draw(picture).rectangle((60, 60, 200, 180), fill="black")
    picture.save(tmp_path / "box.png")

    def submitted():
        run = cli("submit", "vision", str(tmp_path / "box.png"), "--wait", "--download", "shots")
        return None if "No vision worker" in run.stderr else run

    run = wait_for(submitted, timeout=60, interval=1, message="a vision worker")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("class: ")
    assert lines[1].startswith("LABEL") or lines[1] == "no detections"
    assert lines[-1] == str(Path("shots") / "annotated.jpg")
    assert (cli.workdir / "shots" / "annotated.jpg").read_bytes()[:2] == b"\xff\xd8"


def test_a_missing_file_is_a_usage_error_and_a_refused_submit_an_api_error(cli):
    assert "No such file" in expected_failure(cli("submit", "vision", "nowhere.png", "--wait"), 2)
    message = expected_failure(cli("submit", "translate", "--text", "Hi.", "--source-lang", "en"), 1)
    assert message.count("\n") == 1 and "target_lang: Missing data" in message and "HTTP 422" in message


def run_in_terminal(cli: Cli, *args: str, timeout: float = 60) -> tuple[int, str]:
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal; its exit code and all it wrote."""
    leader, follower = pty.openpty()
    # A terminal of known width, as a person's would be, so that tqdm draws a full bar.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor_cli", *args],
        cwd=cli.workdir,
        env={key: value for key, value in cli.env.items() if key != "COLUMNS"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: every holder of the terminal's other end has closed it
                break
            if not chunk:
                break
            output += chunk
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    return code, output.decode("utf-8", "replace")


def test_a_person_at_a_terminal_sees_the_bar_fill_then_the_translation(cli):
    code, screen = run_in_terminal(
        cli, "submit", "translate", "--text", SENTENCE, "--source-lang", "en", "--target-lang", "es", "--wait"
    )
    assert code == 0, screen
    assert "Traceback" not in screen
    # tqdm redraws its line with carriage returns; the last drawing is the finished bar.
    drawings = [part for line in screen.split("\n") for part in line.split("\r") if "|" in part]
    assert drawings and "succeeded" in drawings[-1] and "100%" in drawings[-1], screen
    assert "█" in drawings[-1]
    lines = [line.strip("\r") for line in screen.split("\n") if line.strip()]
    assert "gato" in lines[-1].lower() and "{" not in lines[-1], screen


def test_a_refusal_at_a_terminal_is_one_line(cli):
    code, screen = run_in_terminal(cli, "cancel", str(uuid.uuid4()))
    assert code == 1
    [line] = screen.strip().splitlines()
    assert line.startswith("conveyor: error: Job not found") and line.endswith("(HTTP 404)"), screen


