"""The kind contracts in shared/kinds: one per kind, and plain Python all the way down.

Reading import statements misses what a contract pulls in through the shared modules it uses;
this test imports the contracts in a fresh interpreter and looks at what got loaded.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shared.kinds import KINDS

REPO = Path(__file__).resolve().parents[2]
# What a contract must not bring into the API: engines, the broker, the web framework, the database.
HEAVY = ("faster_whisper", "vosk", "ctranslate2", "cv2", "onnxruntime", "ai_edge_litert",
         "argostranslate", "moviepy", "numpy", "pika", "flask", "marshmallow", "sqlalchemy",
         "subprocess")


def test_every_kind_has_a_contract():
    assert {path.stem for path in (REPO / "shared" / "kinds").iterdir() if path.is_dir()
            and (path / "__init__.py").exists()} == set(KINDS)


def test_contracts_import_no_engine_broker_framework_or_subprocess():
    probe = (
        "import importlib, pkgutil, sys, shared.kinds\n"
        "for info in pkgutil.walk_packages(shared.kinds.__path__, 'shared.kinds.'):\n"
        "    importlib.import_module(info.name)\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith('services')))"
    )
    # A fresh interpreter: this one has long since imported the engines for other tests.
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=REPO)
    assert out.stdout.strip() == "[]"
