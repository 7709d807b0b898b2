"""The asr option task=translate: Whisper's speech-to-English, offered by multilingual models only."""
from __future__ import annotations

import pytest

from services.asr_worker.transcribe import process
from shared.kinds.asr.params import can_translate, validate_params
from tests.fakes import FakeJobIO
from tests.media import have_espeak, speak
from tests.whisper_base import MODEL_ID, SKIP_REASON, whisper_base_models_dir

SPANISH = "El perro come pan. La casa es grande y bonita. Hoy hace buen tiempo."
REPORTED = [
    {"id": "whisper-tiny.en", "engine": "whisper", "languages": ["en"], "detects_language": False,
     "default": True},
    {"id": "whisper-base", "engine": "whisper", "languages": ["en", "es", "ko"],
     "detects_language": True, "default": False},
    {"id": "vosk-ko", "engine": "vosk", "languages": ["ko"], "detects_language": False,
     "default": True},
]


def test_only_multilingual_whisper_models_can_translate():
    assert [m["id"] for m in REPORTED if can_translate(m)] == ["whisper-base"]


def test_translate_is_kept_for_a_multilingual_model_with_the_spoken_language():
    params = validate_params({"model": "whisper-base", "task": "translate", "language": "es"}, REPORTED)
    assert params["task"] == "translate" and params["language"] == "es"
    assert validate_params({"model": "whisper-base", "task": "translate"}, REPORTED)["language"] is None


@pytest.mark.parametrize("task", [None, "", "transcribe"])
def test_transcribing_leaves_the_task_out_of_the_options(task):
    assert "task" not in validate_params({"model": "whisper-base", "task": task}, REPORTED)


@pytest.mark.parametrize(("params", "message"), [
    ({"task": "translate"}, "'whisper-tiny.en' cannot translate"),
    ({"model": "vosk-ko", "task": "translate"}, "'vosk-ko' cannot translate"),
    ({"model": "whisper-base", "task": "summarize"}, "task must be 'transcribe' or 'translate'"),
])
def test_a_task_the_model_cannot_do_is_refused(params, message):
    with pytest.raises(ValueError, match=message):
        validate_params(params, REPORTED)


@pytest.mark.skipif(whisper_base_models_dir() is None, reason=SKIP_REASON)
def test_whisper_base_writes_spanish_speech_out_in_english(tmp_path, monkeypatch):
    if not have_espeak():
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    monkeypatch.setenv("CONVEYOR_ASR_MODELS_DIR", str(whisper_base_models_dir()))
    wav = speak(SPANISH, tmp_path / "es.wav", voice="es", words_per_minute=130)
    job = {"id": "job-translate", "params": {"model": MODEL_ID, "task": "translate"}}
    translated = process(job, FakeJobIO(input_file=wav))
    job["params"]["task"] = "transcribe"
    transcribed = process(job, FakeJobIO(input_file=wav))
    # The language is the one spoken; only the text is English.
    assert translated["language"] == transcribed["language"] == "es"
    assert "casa" in transcribed["text"].lower()
    assert "house" in translated["text"].lower() and "casa" not in translated["text"].lower()
    assert translated["words"] and translated["words"][-1]["end"] <= translated["duration"]
