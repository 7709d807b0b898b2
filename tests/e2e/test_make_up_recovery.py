"""R16: under load, kill -9 each kind of long-running process of `make up` (the gateway excepted);
each comes back by itself, the rest keeps running, and every accepted job finishes.

Run with ``-s`` to see how long each kind was away.
"""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

import requests

from tests.conftest import wait_for

TERMINAL = {"succeeded", "failed", "partial", "cancelled"}


def processes() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        found[int(entry.name)] = (parent, cmdline)
    return found


def descendants(root: int, table: dict[int, tuple[int, str]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    seen, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def find(stack_pid: int, is_it: Callable[[str, str], bool]) -> Optional[int]:
    """The one process of the stack whose (command line, parent's command line) ``is_it`` accepts."""
    table = processes()
    matches = [pid for pid in descendants(stack_pid, table)
               if is_it(table[pid][1], table.get(table[pid][0], (0, ""))[1])]
    return matches[0] if len(matches) == 1 else None


def supervised_child(module: str) -> Callable[[str, str], bool]:
    """The working child of a self-supervising process (forked: same command line as its parent)."""
    def is_it(cmd: str, parent: str) -> bool:  # honcho's "sh -c" wrapper is no python process
        return all(line.split()[0].endswith("python") and f"-m {module}" in line for line in (cmd, parent) if line)
    return is_it


def gunicorn_master(app: str) -> Callable[[str, str], bool]:
    # gunicorn runs as "python .venv/bin/gunicorn ..."; its master is the direct child of supervise.py.
    return lambda cmd, parent: any(part.endswith("/gunicorn") for part in cmd.split()[:2]) and app in cmd \
        and parent.split()[1:2] == ["scripts/supervise.py"]


VICTIMS = {
    "relay": supervised_child("services.relay"),
    "api (gunicorn master)": gunicorn_master("services.api:create_app()"),
    "auth (gunicorn master)": gunicorn_master("services.auth:create_app()"),
    "translate worker": supervised_child("services.translate_worker"),
}


def test_r16_each_process_killed_under_load_comes_back_and_no_job_is_lost(stack):
    base, stack_pid = stack["base"], stack["process"].pid
    name = f"load{uuid.uuid4().hex[:6]}"
    requests.post(f"{base}/auth/v1/register", json={
        "username": name, "email": f"{name}@example.com", "password": "correct-horse-42"}).raise_for_status()
    token = requests.post(f"{base}/auth/v1/login", json={"username": name, "password": "correct-horse-42"}
                          ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    accepted: list[str] = []
    refused = []
    stop = threading.Event()

    def load():
        number = 0
        while not stop.is_set():
            number += 1
            try:
                reply = requests.post(f"{base}/api/v1/jobs/translate", headers=headers, timeout=10, json={
                    "text": f"The cat is black. Number {number}.", "source_lang": "en", "target_lang": "es"})
                if reply.status_code in (200, 201, 202):
                    accepted.append(reply.json()["id"])
                else:
                    refused.append(reply.status_code)  # a request in flight at a kill may fail; not accepted
            except requests.RequestException as exc:
                refused.append(exc.__class__.__name__)
            stop.wait(0.4)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    away: dict[str, float] = {}
    try:
        for kind, is_it in VICTIMS.items():
            wait_for(lambda is_it=is_it: find(stack_pid, is_it), timeout=60, message=f"the {kind} process")
            time.sleep(2)  # load runs through the process before it dies
            victim = find(stack_pid, is_it)
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda is_it=is_it, victim=victim: find(stack_pid, is_it) not in (None, victim),
                     timeout=60, interval=0.1, message=f"a new {kind} process")
            away[kind] = time.monotonic() - killed_at
            assert stack["process"].poll() is None, "the stack must carry on"
        wait_for(lambda: requests.get(f"{base}/readyz", timeout=2).status_code == 200, timeout=60,
                 message="the stack ready again")
        time.sleep(3)  # submissions after the last kill
    finally:
        stop.set()
        loader.join(15)
    after_kills = len(accepted)
    assert after_kills >= 10

    def status(job_id: str) -> str:
        reply = requests.get(f"{base}/api/v1/jobs/{job_id}", headers=headers, timeout=10)
        return reply.json()["status"] if reply.status_code == 200 else "unknown"

    started = time.monotonic()
    wait_for(lambda: all(status(job_id) in TERMINAL for job_id in accepted), timeout=120, interval=1.0,
             message="every accepted job to finish")
    finals = {job_id: status(job_id) for job_id in accepted}
    print(f"\n[R16/point 1] process back after kill -9: "
          f"{', '.join(f'{kind} {seconds:.1f}s' for kind, seconds in away.items())}; "
          f"{len(accepted)} jobs accepted, {len(refused)} submissions refused during kills, "
          f"all finished {time.monotonic() - started:.1f}s after the load stopped")
    assert set(finals.values()) == {"succeeded"}, finals
    assert len(set(accepted)) == len(accepted)
    assert stack["process"].poll() is None
