"""The speech-to-text job with the real Whisper tiny.en model on speech made by espeak-ng."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.asr_worker import transcribe
from services.asr_worker.audio import FIRST_CHUNK_SECONDS
from services.asr_worker.catalog import find_model
from services.asr_worker.engines import load_engine
from services.asr_worker.transcribe import process
from shared.handler import JobCancelled, PermanentError, TransientError
from tests.fakes import FakeJobIO
from tests.media import ENGLISH_SENTENCES, encode, silence, silent_video, speak, wav_seconds, word_error_rate

SPOKEN = " ".join(ENGLISH_SENTENCES[:8])  # about 20 s at 160 words a minute


def _job(**params):
    return {
        "id": "job-asr",
        "kind": "asr",
        "number": 1,
        "params": params,
        "attempt": 1,
        "input": {"filename": "speech", "content_type": "audio/ogg", "size": 1},
    }


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    wav = speak(SPOKEN, folder / "speech.wav")
    return {
        "wav": wav,
        "seconds": wav_seconds(wav),
        "opus": encode(wav, folder / "speech.ogg", "-c:a", "libopus", "-b:a", "32k"),
    }


@pytest.fixture(scope="module")
def transcript(speech):
    io = FakeJobIO(input_file=speech["opus"])
    return process(_job(), io), io


def test_whisper_tiny_en_transcribes_english_speech_within_25_percent_wer(transcript):
    result, _ = transcript
    assert word_error_rate(SPOKEN, result["text"]) <= 0.25


def test_result_names_language_duration_engine_and_model(transcript, speech):
    result, _ = transcript
    assert result["language"] == "en"
    assert result["duration"] == pytest.approx(speech["seconds"], abs=0.15)
    assert (result["engine"], result["model"]) == ("whisper", "whisper-tiny.en")
    assert result["segments"] and all(s["text"] for s in result["segments"])


def test_whisper_segments_keep_what_the_decoder_knew_of_them(transcript):
    result, _ = transcript
    for segment in result["segments"]:
        assert segment["tokens"] and all(isinstance(token, int) for token in segment["tokens"])
        assert segment["avg_logprob"] <= 0.0 and segment["compression_ratio"] > 0.0
        assert 0.0 <= segment["no_speech_prob"] <= 1.0 and 0.0 <= segment["temperature"] <= 1.0
        assert isinstance(segment["seek"], int) and segment["seek"] >= 0
        assert 0.0 <= segment["start"] < segment["end"] <= result["duration"]


def test_words_are_seed_shaped_records_in_order_inside_the_audio(transcript):
    result, _ = transcript
    words = result["words"]
    assert len(words) >= 0.75 * len(SPOKEN.split())
    assert all(sorted(w) == ["conf", "end", "start", "word"] for w in words)
    assert all(0 <= w["start"] <= w["end"] <= result["duration"] for w in words)
    assert all(a["end"] <= b["start"] for a, b in zip(words, words[1:]))
    assert all(0 <= w["conf"] <= 1 for w in words)
    assert " ".join(w["word"] for w in words).split() == result["text"].split()


def test_progress_counts_audio_seconds_up_to_the_total(transcript):
    result, io = transcript
    done = [current for current, _, _ in io.progress_events]
    assert io.progress_events[0][0] == 0
    assert done == sorted(done)
    assert {unit for _, _, unit in io.progress_events} == {"seconds"}
    assert io.progress_events[-1][0] == pytest.approx(io.progress_events[-1][1])
    assert io.progress_events[-1][0] == pytest.approx(result["duration"])


def test_chunked_job_reports_ordered_chunks_that_cover_the_audio_and_join_to_the_text(speech):
    io = FakeJobIO(input_file=speech["wav"])
    result = process(_job(chunk_seconds=6), io)
    chunks = [io.chunks[seq] for seq in sorted(io.chunks)]
    assert sorted(io.chunks) == list(range(len(chunks))) and len(chunks) >= 3
    assert chunks[0]["start"] == 0
    assert all(a["end"] == b["start"] for a, b in zip(chunks, chunks[1:]))
    assert chunks[-1]["end"] == result["duration"]
    assert all(c["end"] - c["start"] <= 6 for c in chunks)
    assert " ".join(c["text"] for c in chunks if c["text"]) == result["text"]
    assert [w for c in chunks for w in c["words"]] == result["words"]
    assert [s for c in chunks for s in c["segments"]] == result["segments"]
    # A later chunk's decoding windows are counted from the file's start (10 ms frames).
    assert chunks[-1]["segments"][0]["seek"] >= chunks[-1]["start"] * 100 - 1
    for chunk in chunks:
        assert all(chunk["start"] <= w["start"] <= w["end"] <= chunk["end"] for w in chunk["words"])
    # Word times are on the file's clock: the last chunk's words come late in the file.
    assert chunks[-1]["words"][0]["start"] >= chunks[-1]["start"] > 10
    assert word_error_rate(SPOKEN, result["text"]) <= 0.4


def test_cancel_after_the_first_chunk_stops_with_that_chunk_kept(speech):
    # Event 1 is the opening progress report, event 2 the first chunk: the cancel lands there.
    io = FakeJobIO(input_file=speech["wav"], cancel_after_events=2)
    with pytest.raises(JobCancelled):
        process(_job(chunk_seconds=5), io)
    assert list(io.chunks) == [0]
    assert io.chunks[0]["text"]
    assert not _ffmpeg_children()


def _ffmpeg_children() -> list[int]:
    """Child processes of this test process that still run ffmpeg."""
    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return [p for p in pids if b"ffmpeg" in Path(f"/proc/{p}/cmdline").read_bytes()]


def test_silence_gives_an_empty_transcript_not_a_hallucination(tmp_path):
    result = process(_job(), FakeJobIO(input_file=silence(tmp_path / "quiet.wav", 6)))
    assert result["text"] == "" and result["words"] == []
    assert result["duration"] == pytest.approx(6, abs=0.05)


def test_model_is_loaded_once_per_process():
    model = find_model("whisper-tiny.en")
    assert load_engine(model.engine, model.path) is load_engine(model.engine, model.path)


def test_file_that_is_not_media_fails_permanently(tmp_path):
    bogus = tmp_path / "notes.mp3"
    bogus.write_text("these are not the sounds you are looking for\n" * 50)
    with pytest.raises(PermanentError):
        process(_job(), FakeJobIO(input_file=bogus))


def test_video_without_sound_fails_permanently(tmp_path):
    video = tmp_path / "mute.mp4"
    silent_video(video)
    with pytest.raises(PermanentError, match="no audio stream"):
        process(_job(), FakeJobIO(input_file=video))


def test_a_model_missing_here_fails_for_a_retry_before_reading_the_input():
    # The API checked the model against every live worker's catalog: another worker may have it.
    io = FakeJobIO(input_file=None)
    with pytest.raises(TransientError, match="not installed on this worker"):
        process(_job(model="whisper-huge"), io)
    assert io.progress_events == []


class _OrderedIO(FakeJobIO):
    """Records each chunk's seq and each progress report in the order the job sent them."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.order: list[tuple[str, object]] = []

    def chunk(self, seq, data):
        self.order.append(("chunk", seq))
        super().chunk(seq, data)

    def progress(self, current, total, unit):
        self.order.append(("progress", current))
        super().progress(current, total, unit)


def test_a_job_longer_than_the_first_words_wait_reports_a_short_first_chunk_with_words_first(
    speech, monkeypatch
):
    # As on a machine where this clip takes longer than FIRST_WORDS_SECONDS to hear (one engine
    # second per audio second, measured on earlier jobs).
    monkeypatch.setattr(transcribe, "_seconds_per_audio_second", {"whisper-tiny.en": 1.0})
    io = _OrderedIO(input_file=speech["wav"])
    result = process(_job(), io)
    first, *rest = [io.chunks[seq] for seq in sorted(io.chunks)]
    assert first["end"] <= FIRST_CHUNK_SECONDS and first["words"]
    # The rest of the ~20 s clip comes in one chunk of the configured length (30 s).
    assert len(rest) == 1 and rest[0]["end"] == result["duration"]
    # The first words went out before the rest of the audio was heard.
    assert io.order.index(("chunk", 0)) < io.order.index(("chunk", 1))
    assert [c["seq"] for c in (first, *rest)] == [0, 1]
    assert word_error_rate(SPOKEN, result["text"]) <= 0.25


def test_a_job_expected_to_end_within_the_first_words_wait_is_one_chunk(speech, monkeypatch):
    monkeypatch.setattr(transcribe, "_seconds_per_audio_second", {"whisper-tiny.en": 0.001})
    io = FakeJobIO(input_file=speech["wav"])
    process(_job(), io)
    assert list(io.chunks) == [0]
