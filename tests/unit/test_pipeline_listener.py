"""Every process that ends jobs moves pipelines along: shared.pipelineflow subscribes at its import.

The relay's lease reaper fails a step for good when its workers keep dying; unless the relay process
has the pipeline listener too, that pipeline would stay running forever.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.unit.test_job_listeners import PROCESSES, REPO_ROOT

REPORT = ("import json; from shared import jobflow; print(json.dumps(sorted("
          "f'{f.__module__}.{f.__qualname__}' for f in jobflow.SETTLED_LISTENERS)))")


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_every_process_that_ends_jobs_advances_pipelines(process, tmp_path):
    env = dict(os.environ, CONVEYOR_ENV="testing", CONVEYOR_DATA_DIR=str(tmp_path))
    for name in ("CONVEYOR_JWT_PRIVATE_KEY_FILE", "CONVEYOR_JWT_PUBLIC_KEY_FILE"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", f"{PROCESSES[process]}\n{REPORT}"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "shared.pipelineflow.advance" in json.loads(done.stdout.strip().splitlines()[-1])
