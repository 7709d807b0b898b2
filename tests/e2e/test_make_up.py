"""`make up`'s stack, started the way a user starts it (scripts/up.sh), driven like the README's curl steps."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from tests.conftest import RUN_DIR, wait_for

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "conveyor_test_stack"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def stack():
    """The whole stack on free ports with its own database, stopped with Ctrl-C (SIGINT) at the end."""
    with psycopg.connect("postgresql://conveyor:conveyor@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    ports = {name: free_port() for name in ("CONVEYOR_PORT", "CONVEYOR_AUTH_PORT", "CONVEYOR_API_PORT")}
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVEYOR_")}
    env.update({name: str(port) for name, port in ports.items()})
    env.update({
        "DATABASE_URL": f"postgresql+psycopg://conveyor:conveyor@127.0.0.1:5432/{DATABASE}",
        "CONVEYOR_AMQP_PREFIX": f"cstack{os.getpid()}",
        "CONVEYOR_DATA_DIR": str(RUN_DIR / "stack"),
        "CONVEYOR_ADMIN_USERNAME": "boss",
        "CONVEYOR_ADMIN_PASSWORD": "Stack-admin-pass-77",
    })
    log = open(RUN_DIR / "stack.log", "wb")
    process = subprocess.Popen(["bash", "scripts/up.sh"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{ports['CONVEYOR_PORT']}"

    def ready():
        try:
            return requests.get(f"{base}/readyz", timeout=2).status_code == 200 and \
                requests.get(f"{base}/api/v1/languages", timeout=2).json()["pairs"]
        except (requests.ConnectionError, requests.Timeout, ValueError):
            assert process.poll() is None, (RUN_DIR / "stack.log").read_text()[-3000:]
            return False

    try:
        wait_for(ready, timeout=90, interval=0.5, message="the stack to be ready")
        yield {"base": base, "process": process}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_the_readme_flow_through_the_gateway(stack):
    base = stack["base"]
    name = f"alice{uuid.uuid4().hex[:6]}"
    assert requests.post(f"{base}/auth/v1/register", json={
        "username": name, "email": f"{name}@example.com", "password": "correct-horse-42"}).status_code == 201
    token = requests.post(f"{base}/auth/v1/login", json={"username": name, "password": "correct-horse-42"}
                          ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    job = requests.post(f"{base}/api/v1/jobs/translate", headers=headers, json={
        "text": "The cat is black. I would like a cup of coffee.", "source_lang": "en", "target_lang": "es"}).json()
    with requests.get(f"{base}/api/v1/jobs/{job['id']}/events", headers=headers, stream=True, timeout=30) as events:
        lines = [line for line in events.iter_lines(decode_unicode=True) if line.startswith("event:")]
    assert lines[-1] == "event: end"
    result = requests.get(f"{base}/api/v1/jobs/{job['id']}/result", headers=headers).json()["result"]
    assert "gato" in result["translated_text"].lower() and "café" in result["translated_text"].lower()
    listed = requests.get(f"{base}/api/v1/jobs?kind=translate", headers=headers).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    assert requests.delete(f"{base}/api/v1/jobs/{job['id']}", headers=headers).status_code == 204


def test_the_admin_from_the_settings_can_log_in(stack):
    reply = requests.post(f"{stack['base']}/auth/v1/login", json={"username": "boss", "password": "Stack-admin-pass-77"})
    me = requests.get(f"{stack['base']}/auth/v1/me", headers={"Authorization": f"Bearer {reply.json()['access_token']}"})
    assert me.json()["role"] == "admin"


def test_the_gateway_serves_docs_and_hides_the_internal_api(stack):
    base = stack["base"]
    assert requests.get(f"{base}/docs").status_code == 200
    assert requests.get(f"{base}/auth/docs").status_code == 200
    assert requests.get(f"{base}/.well-known/jwks.json").json()["keys"][0]["alg"] == "RS256"
    assert requests.post(f"{base}/internal/v1/jobs/x/claim", json={"worker_id": "w"}).status_code == 404


def test_ctrl_c_stops_every_process(stack):
    process = stack["process"]
    group = os.getpgid(process.pid)
    os.killpg(group, signal.SIGINT)
    process.wait(30)

    def group_gone():
        alive = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True).stdout.split()
        return not alive
    wait_for(group_gone, timeout=20, message="every process of the stack to exit")
