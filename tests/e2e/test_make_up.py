"""`make up`'s stack, started the way a user starts it (scripts/up.sh), driven like the README's curl steps."""
from __future__ import annotations

import os
import signal
import subprocess
import uuid

import requests

from tests.conftest import wait_for


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
    reply = requests.post(f"{stack['base']}/auth/v1/login",
                          json={"username": "boss", "password": "Stack-admin-pass-77"})
    me = requests.get(f"{stack['base']}/auth/v1/me",
                      headers={"Authorization": f"Bearer {reply.json()['access_token']}"})
    assert me.json()["role"] == "admin"


def test_the_gateway_serves_docs_and_hides_the_internal_api(stack):
    base = stack["base"]
    assert requests.get(f"{base}/docs").status_code == 200
    assert requests.get(f"{base}/auth/docs").status_code == 200
    assert requests.get(f"{base}/.well-known/jwks.json").json()["keys"][0]["alg"] == "RS256"
    assert requests.post(f"{base}/internal/v1/jobs/x/claim", json={"worker_id": "w"}).status_code == 404


def test_ctrl_c_stops_every_process(own_stack):
    process = own_stack["process"]
    group = os.getpgid(process.pid)
    os.killpg(group, signal.SIGINT)
    process.wait(30)

    def group_gone():
        alive = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True).stdout.split()
        return not alive
    wait_for(group_gone, timeout=20, message="every process of the stack to exit")
