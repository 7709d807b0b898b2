"""Decoding media into 16 kHz mono chunks with the bundled ffmpeg (services.asr_worker.audio)."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from services.asr_worker.audio import (
    BYTES_PER_SECOND,
    FIRST_CHUNK_SECONDS,
    AudioChunk,
    DecodeError,
    chunk_plan,
    iter_chunks,
)
from services.asr_worker.transcribe import first_chunk_seconds
from shared.media_probe import probe
from tests.media import ENGLISH_SENTENCES, encode, silent_video, speak, wav_seconds, with_video

# Lossy codecs pad or trim a few frames; a container may round its duration.
TOLERANCE_SECONDS = 0.15


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory):
    return speak(" ".join(ENGLISH_SENTENCES[:3]), tmp_path_factory.mktemp("audio") / "speech.wav")


def _decode_all(path, chunk_seconds=30.0) -> list[AudioChunk]:
    return list(iter_chunks(path, probe(path), chunk_seconds))


@pytest.mark.parametrize(
    "suffix, args",
    [
        (".mp3", ()),
        (".ogg", ("-c:a", "libopus")),
        (".flac", ()),
        (".m4a", ("-c:a", "aac")),
        (".webm", ("-c:a", "libopus")),
        (".wav", ("-ar", "44100", "-ac", "2")),
    ],
)
def test_audio_formats_decode_to_the_whole_sound_at_16khz_mono(speech_wav, tmp_path, suffix, args):
    source = encode(speech_wav, tmp_path / f"speech{suffix}", *args)
    chunks = _decode_all(source)
    decoded = sum(len(c.pcm) for c in chunks) / BYTES_PER_SECOND
    assert decoded == pytest.approx(wav_seconds(speech_wav), abs=TOLERANCE_SECONDS)
    assert np.abs(np.concatenate([c.samples() for c in chunks])).max() > 0.05


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_sound_track_of_a_video_is_decoded(speech_wav, tmp_path, suffix):
    video = with_video(speech_wav, tmp_path / f"clip{suffix}")
    decoded = sum(len(c.pcm) for c in _decode_all(video)) / BYTES_PER_SECOND
    assert decoded == pytest.approx(wav_seconds(speech_wav), abs=TOLERANCE_SECONDS)


def test_chunks_are_contiguous_bounded_and_cover_the_whole_file(speech_wav):
    chunks = _decode_all(speech_wav, chunk_seconds=5)
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert len(chunks) >= 2
    assert chunks[0].start == 0
    for before, after in zip(chunks, chunks[1:]):
        assert after.start == pytest.approx(before.end)
    assert all(c.duration <= 5 for c in chunks)
    # Cuts move back at most 20 % of the chunk length, to a quiet spot.
    assert all(c.duration >= 4 for c in chunks[:-1])
    assert chunks[-1].end == pytest.approx(wav_seconds(speech_wav), abs=TOLERANCE_SECONDS)


def test_chunk_cut_moves_back_into_a_pause_near_the_boundary(speech_wav, tmp_path):
    # Continuous speech with one 0.4 s pause at 4.3 s: a 5 s chunk must end inside that pause.
    with wave.open(str(speech_wav)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    speech = samples[np.abs(samples) > 300]  # espeak's own pauses removed: no other quiet spot
    paused = np.concatenate(
        [
            speech[: int(4.3 * rate)],
            np.zeros(int(0.4 * rate), np.int16),
            speech[int(4.3 * rate) : int(8 * rate)],
        ]
    )
    clip = tmp_path / "paused.wav"
    with wave.open(str(clip), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(paused.tobytes())
    first, *rest = _decode_all(clip, chunk_seconds=5)
    assert 4.3 < first.end < 4.7
    assert rest


def test_stopping_early_ends_the_ffmpeg_process(speech_wav):
    chunks = iter_chunks(speech_wav, probe(speech_wav), 5)
    next(chunks)
    frame = chunks.gi_frame
    proc = frame.f_locals["proc"]
    chunks.close()
    assert proc.returncode is not None


def test_file_without_an_audio_stream_cannot_be_decoded(tmp_path):
    video = tmp_path / "silent.mp4"
    silent_video(video)
    with pytest.raises(DecodeError):
        _decode_all(video)


def test_chunk_plan_is_a_short_first_chunk_then_the_configured_length():
    plan = chunk_plan(30.0, FIRST_CHUNK_SECONDS)
    assert [next(plan) for _ in range(4)] == [FIRST_CHUNK_SECONDS, 30.0, 30.0, 30.0]
    # No first length, or one longer than the chunks: every chunk has the configured length.
    assert [next(chunk_plan(30.0)) for _ in range(2)] == [30.0, 30.0]
    short = chunk_plan(3.0, FIRST_CHUNK_SECONDS)
    assert [next(short) for _ in range(3)] == [3.0, 3.0, 3.0]


def test_decoding_with_a_short_first_chunk_cuts_it_short_then_the_full_length(speech_wav):
    chunks = list(iter_chunks(speech_wav, probe(speech_wav), 6.0, 2.5))
    assert 2.0 <= chunks[0].duration <= 2.5
    assert all(4.8 <= c.duration <= 6.0 for c in chunks[1:-1]) and len(chunks) >= 3
    assert all(a.end == pytest.approx(b.start) for a, b in zip(chunks, chunks[1:]))
    assert chunks[-1].end == pytest.approx(wav_seconds(speech_wav), abs=TOLERANCE_SECONDS)


@pytest.mark.parametrize(
    "duration, chunk_seconds, pace, expected",
    [
        (20.0, 30.0, None, None),  # pace not known yet, and one chunk holds it: no cut
        (60.0, 30.0, None, FIRST_CHUNK_SECONDS),  # pace not known yet, but it is cut anyway
        (20.0, 30.0, 0.2, FIRST_CHUNK_SECONDS),  # 4 s of work: the first words sooner
        (600.0, 30.0, 0.01, FIRST_CHUNK_SECONDS),  # 6 s of work
        (14.5, 30.0, 0.05, None),  # done within 0.8 s: one chunk, no extra engine pass
        (4.0, 30.0, None, None),  # no longer than a short chunk
        (60.0, 5.0, None, None),  # the configured chunks are short already
    ],
)
def test_first_chunk_is_short_only_when_the_whole_job_would_keep_words_back(
    duration, chunk_seconds, pace, expected
):
    assert first_chunk_seconds(duration, chunk_seconds, pace) == expected
