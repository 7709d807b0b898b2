"""The ASR worker's start: which models it warms, and what it offers when a model will not load."""

from __future__ import annotations

import json
import os

import pytest

from services.asr_worker.__main__ import capabilities, models_to_warm, warm
from services.asr_worker.catalog import DEFAULT_WHISPER_MODEL, installed_models
from services.asr_worker.transcribe import process
from shared.config import Config
from shared.handler import TransientError
from tests.fakes import FakeJobIO


@pytest.fixture
def broken_model(tmp_path, monkeypatch):
    """A models directory holding a Whisper model whose weights are garbage."""
    root = tmp_path / "models"
    broken = root / "whisper-broken"
    broken.mkdir(parents=True)
    (broken / "model.bin").write_bytes(b"not a CTranslate2 model" * 10)
    (broken / "config.json").write_text("{}")
    # 51864 entries: read as an English-only vocabulary, like tiny.en's.
    (broken / "vocabulary.json").write_text(json.dumps([f"t{n}" for n in range(51864)]))
    monkeypatch.setenv("CONVEYOR_ASR_MODELS_DIR", str(root))
    return "whisper-broken"


def test_the_default_whisper_model_is_warmed_and_preload_adds_others():
    models = installed_models()
    assert [m.id for m in models_to_warm(models, ())] == [DEFAULT_WHISPER_MODEL]
    both = {m.id for m in models_to_warm(models, ("vosk-ko", "no-such-model"))}
    assert both == {DEFAULT_WHISPER_MODEL, "vosk-ko"}
    assert models_to_warm(models, ("all",)) == models


def test_a_model_that_fails_to_load_is_dropped_from_the_capabilities(broken_model):
    assert broken_model in {m["id"] for m in capabilities()["models"]}
    ready = warm([m for m in installed_models() if m.id in (broken_model, DEFAULT_WHISPER_MODEL)])
    assert [m.id for m in ready] == [DEFAULT_WHISPER_MODEL]
    offered = {m["id"] for m in capabilities()["models"]}
    assert broken_model not in offered and DEFAULT_WHISPER_MODEL in offered


def test_a_job_whose_model_fails_to_load_fails_for_a_retry(broken_model):
    io = FakeJobIO(input_file=None)
    with pytest.raises(TransientError, match="could not be loaded"):
        process({"id": "job-broken", "params": {"model": broken_model}}, io)
    assert io.progress_events == []


@pytest.mark.parametrize("cores, workers, threads", [(2, 1, 2), (2, 2, 1), (8, 3, 2), (2, 4, 1)])
def test_speech_threads_default_to_the_cores_shared_among_the_hosts_workers(
    monkeypatch, cores, workers, threads
):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.delenv("CONVEYOR_ASR_THREADS", raising=False)
    monkeypatch.setenv("CONVEYOR_ASR_WORKERS", str(workers))
    assert Config().ASR_THREADS == threads
    monkeypatch.setenv("CONVEYOR_ASR_THREADS", "3")
    assert Config().ASR_THREADS == 3
