"""Every Postman collection in docs/postman, run in newman against `make up`'s stack, in order, green.

newman is the repository's own (tools/package.json, installed by `make newman`, which `make test` runs).
A run passes only when newman exits 0 and its JSON report counts assertions and no failure, so a
collection without tests cannot pass.
"""
from __future__ import annotations

import json
import random
import re
import string
import subprocess
from pathlib import Path

import pytest

from shared.config import DEV_ADMIN_TOKEN, DEV_WORKER_TOKEN

ROOT = Path(__file__).resolve().parents[2]
POSTMAN = ROOT / "docs" / "postman"
NEWMAN = ROOT / "tools" / "node_modules" / ".bin" / "newman"
COLLECTIONS = sorted(path.name for path in POSTMAN.glob("*.postman_collection.json"))


SUFFIX = "".join(random.choices(string.ascii_lowercase, k=6))


def account(collection: str) -> dict[str, str]:
    """A new account per collection (so each makes its own: register is 201), the same one on a second run
    (409); letters only and a password the lecture surface's rules accept."""
    name = "pm" + SUFFIX + re.sub(r"[^a-z]", "", collection.split(".")[0])
    return {"username": name, "password": "Correct_Horse_42!", "email": f"{name}@example.com"}


def newman_run(collection: str, base: str, account: dict[str, str], report: Path) -> dict:
    if not NEWMAN.exists():
        pytest.fail(f"newman is not installed at {NEWMAN}: run `make newman` (npm ci --prefix tools; needs Node.js "
                    "and npm)")
    variables = {"baseUrl": base, **account, "adminUsername": "boss", "adminPassword": "Stack-admin-pass-77",
                 "adminToken": DEV_ADMIN_TOKEN, "workerToken": DEV_WORKER_TOKEN}
    command = [str(NEWMAN), "run", str(POSTMAN / collection), "--working-dir", str(POSTMAN),
               "--reporters", "cli,json", "--reporter-json-export", str(report), "--color", "off",
               "--disable-unicode"]
    for key, value in variables.items():
        command += ["--env-var", f"{key}={value}"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"newman failed on {collection}:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    stats = json.loads(report.read_text())["run"]["stats"]
    print(f"{collection}: {stats['requests']['total']} requests, {stats['assertions']['total']} assertions, "
          f"{stats['assertions']['failed']} failed")
    return stats


def test_there_is_a_collection_per_surface():
    assert COLLECTIONS == ["compat-converter.postman_collection.json", "compat-lecture.postman_collection.json",
                           "compat-nevisa.postman_collection.json", "compat-primitives.postman_collection.json",
                           "compat-translate.postman_collection.json", "conveyor.postman_collection.json",
                           "libretranslate.postman_collection.json", "openai-audio.postman_collection.json"]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_the_collection_runs_green_in_newman(stack, collection, tmp_path):
    stats = newman_run(collection, stack["base"], account(collection), tmp_path / "report.json")
    assert stats["assertions"]["total"] > 0 and stats["assertions"]["failed"] == 0
    assert stats["requests"]["total"] > 0 and stats["requests"]["failed"] == 0
    assert stats["testScripts"]["failed"] == 0 and stats["prerequestScripts"]["failed"] == 0


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_second_run_passes_too(stack, collection, tmp_path):
    """The account exists by now: the register and sign-up requests take their 409 branch."""
    stats = newman_run(collection, stack["base"], account(collection), tmp_path / "report.json")
    assert stats["assertions"]["total"] > 0 and stats["assertions"]["failed"] == 0
