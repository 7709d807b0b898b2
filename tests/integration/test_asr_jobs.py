"""Speech-to-text jobs through the real API, outbox relay, RabbitMQ and an ASR worker.

Real models (Whisper tiny.en, Vosk Korean) hear real speech that espeak-ng makes at test time.
"""
from __future__ import annotations

import io
import json
import os
import re

import docx
import pytest
import srt
import webvtt

from services.asr_worker.__main__ import capabilities, models_to_warm, warm
from services.asr_worker.catalog import DEFAULT_WHISPER_MODEL, installed_models
from services.asr_worker.transcribe import process
from tests.conftest import wait_for
from tests.integration.test_pipeline import wait_status
from tests.media import ENGLISH_SENTENCES, KOREAN_SENTENCES, encode, ffmpeg, speak, wav_seconds, word_error_rate
from tests.subtitle_checks import check_cues, srt_cues, vtt_cues

SPOKEN = " ".join(ENGLISH_SENTENCES[:8])  # about 20 s at espeak-ng's 160 words a minute
LONG_SPOKEN = " ".join(ENGLISH_SENTENCES * 2)  # about 50 s: time enough to cancel mid-file
JOB_TIMEOUT = 120.0
WORD_KEYS = {"conf", "end", "start", "word"}
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Every file the tests upload, made once: speech by espeak-ng, the rest by ffmpeg."""
    folder = tmp_path_factory.mktemp("asr-media")
    english = speak(SPOKEN, folder / "english.wav")
    long_english = speak(LONG_SPOKEN, folder / "long.wav")
    korean = speak(" ".join(KOREAN_SENTENCES[:4]), folder / "korean.wav", voice="ko")
    # Over four hours of silence, yet a 200 KB upload: FLAC stores silence in a few bytes a frame.
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=1000:cl=mono", "-t", "14500", "-c:a", "flac",
            str(folder / "four-hours.flac"))
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.4",
            str(folder / "blip.wav"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "3", "-an",
            str(folder / "silent-film.mp4"))
    return {
        "english_seconds": wav_seconds(english),
        "long_seconds": wav_seconds(long_english),
        "english.mp3": encode(english, folder / "english.mp3", "-b:a", "32k").read_bytes(),
        "long.ogg": encode(long_english, folder / "long.ogg", "-c:a", "libopus",
                           "-b:a", "24k").read_bytes(),
        "korean.ogg": encode(korean, folder / "korean.ogg", "-c:a", "libopus",
                             "-b:a", "24k").read_bytes(),
        "short.wav": speak(ENGLISH_SENTENCES[3], folder / "short.wav").read_bytes(),
        "four-hours.flac": (folder / "four-hours.flac").read_bytes(),
        "blip.wav": (folder / "blip.wav").read_bytes(),
        "silent-film.mp4": (folder / "silent-film.mp4").read_bytes(),
        "corrupt.mp3": os.urandom(40_000),
    }


@pytest.fixture(scope="module")
def offered():
    """What an ASR worker reports once it has warmed its models (the Korean one as well)."""
    warm(models_to_warm(installed_models(), ("vosk-ko",)))
    return capabilities()


@pytest.fixture
def asr_worker(start_worker, offered, app):
    """A real ASR worker in a thread (models stay loaded across tests), once it has registered."""
    return start_worker(handler=process, kind="asr", capabilities=lambda: offered)


def submit(client, user, content: bytes, filename: str, **fields):
    form = {"file": (io.BytesIO(content), filename), **fields}
    return client.post("/api/v1/jobs/asr", headers=user.headers,
                       content_type="multipart/form-data", data=form)


def asr_total(client, user) -> int:
    return client.get("/api/v1/jobs?kind=asr", headers=user.headers).json["total"]


def chunks_of(client, user, job_id) -> list[dict]:
    reply = client.get(f"/api/v1/jobs/{job_id}/chunks", headers=user.headers)
    assert reply.status_code == 200
    return [{"seq": c["seq"], **c["data"]} for c in reply.json]


def sse_events(client, user, job_id) -> list[tuple[str, dict]]:
    body = client.get(f"/api/v1/jobs/{job_id}/events", headers=user.headers).get_data(as_text=True)
    events = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_english_speech_is_transcribed_in_ordered_chunks_with_timed_words(
        client, make_user, relay, asr_worker, media):
    user = make_user()
    reply = submit(client, user, media["english.mp3"], "english.mp3", chunk_seconds="6")
    assert reply.status_code == 202, reply.json
    params = reply.json["params"]
    assert params["model"] == DEFAULT_WHISPER_MODEL and params["chunk_seconds"] == 6.0
    assert params["duration"] == pytest.approx(media["english_seconds"], abs=0.2)
    job = wait_status(client, user, reply.json["id"], timeout=JOB_TIMEOUT)
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"]["unit"] == "seconds" and job["progress"]["percent"] == 100.0

    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers).json["result"]
    assert word_error_rate(SPOKEN, result["text"]) <= 0.25, result["text"]
    assert result["language"] == "en"
    assert result["duration"] == pytest.approx(media["english_seconds"], abs=0.2)
    words = result["words"]
    assert len(words) >= 40 and all(set(w) == WORD_KEYS for w in words)
    assert all(0.0 <= w["start"] <= w["end"] <= result["duration"] for w in words)
    assert all(a["end"] <= b["start"] for a, b in zip(words, words[1:]))

    polled = chunks_of(client, user, job["id"])
    assert [c["seq"] for c in polled] == list(range(len(polled))) and len(polled) >= 3
    assert polled[0]["start"] == 0.0 and polled[-1]["end"] == result["duration"]
    assert all(a["end"] == b["start"] for a, b in zip(polled, polled[1:]))
    assert all(c["end"] - c["start"] <= 6.0 for c in polled)
    assert " ".join(c["text"] for c in polled if c["text"]) == result["text"]
    assert [w for c in polled for w in c["words"]] == words

    streamed = sse_events(client, user, job["id"])
    assert streamed[-1] == ("end", {"status": "succeeded"})
    assert [data for event, data in streamed if event == "chunk"] == polled


def test_cancel_after_the_first_chunk_keeps_the_chunks_and_exports_them(
        client, make_user, relay, asr_worker, media):
    user = make_user()
    reply = submit(client, user, media["long.ogg"], "long.ogg", chunk_seconds="5")
    assert reply.status_code == 202, reply.json
    job_id = reply.json["id"]
    wait_for(lambda: chunks_of(client, user, job_id), timeout=JOB_TIMEOUT,
             message="the first chunk")
    cancelled = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=user.headers)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "partial"
    # The worker learns of the cancel at its next report: within one chunk.
    wait_for(lambda: not asr_worker._busy.is_set(), timeout=30, message="the worker to stop")

    kept = chunks_of(client, user, job_id)
    assert [c["seq"] for c in kept] == list(range(len(kept)))
    assert kept[-1]["end"] < media["long_seconds"] - 5
    reply = client.get(f"/api/v1/jobs/{job_id}/result", headers=user.headers)
    assert reply.status_code == 200 and reply.json["status"] == "partial"
    partial = reply.json["result"]
    assert partial["partial"] is True and partial["duration"] == kept[-1]["end"]
    assert partial["text"] == " ".join(c["text"] for c in kept if c["text"])
    assert partial["words"] == [w for c in kept for w in c["words"]]
    # The segments are the engine's, carried by each chunk: sentences, not chunk-long stretches.
    segments = partial["segments"]
    assert segments == [s for c in kept for s in c["segments"]]
    chunk_ends = [c["end"] for c in kept]
    for segment in segments:
        # A segment ends with its sentence, or where the chunk cut the audio.
        assert segment["text"].endswith((".", "?", "!")) or min(
            abs(segment["end"] - end) for end in chunk_ends) <= 0.6, segment
    assert " ".join(s["text"] for s in segments) == partial["text"]

    def exported(fmt: str):
        reply = client.get(f"/api/v1/jobs/{job_id}/export?format={fmt}", headers=user.headers)
        assert reply.status_code == 200, reply.json
        assert f'.{"docx" if fmt == "docx" else fmt}"' in reply.headers["Content-Disposition"]
        return reply

    subtitles = list(srt.parse(exported("srt").get_data(as_text=True)))
    check_cues(srt_cues(subtitles), [s["text"] for s in segments])
    assert subtitles[-1].end.total_seconds() <= kept[-1]["end"]
    captions = webvtt.from_string(exported("vtt").get_data(as_text=True))
    check_cues(vtt_cues(captions), [s["text"] for s in segments])
    document = docx.Document(io.BytesIO(exported("docx").data))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "Transcript (partial)"
    assert " ".join(p.split("] ", 1)[1] for p in paragraphs[2:]) == partial["text"]
    text = exported("txt").get_data(as_text=True)
    assert text.splitlines() == [s["text"] for s in segments]
    assert exported("json").json["words"] == partial["words"]


def test_a_corrupt_file_is_refused_at_submit_and_nothing_is_queued(client, make_user,
                                                                   asr_worker, media):
    user = make_user()
    reply = submit(client, user, media["corrupt.mp3"], "song.mp3")
    assert reply.status_code == 400
    assert "cannot be transcribed" in reply.json["message"]
    assert asr_total(client, user) == 0


@pytest.mark.parametrize("filename", ["four-hours.flac", "blip.wav"])
def test_audio_outside_the_duration_limits_is_refused_saying_the_limits(
        client, make_user, asr_worker, media, filename):
    user = make_user()
    reply = submit(client, user, media[filename], filename)
    assert reply.status_code == 400
    assert "1 s to 14400 s (4 h)" in reply.json["message"]
    assert asr_total(client, user) == 0


def test_a_video_without_sound_is_refused(client, make_user, asr_worker, media):
    user = make_user()
    reply = submit(client, user, media["silent-film.mp4"], "film.mp4")
    assert reply.status_code == 400
    assert "no audio stream" in reply.json["message"]
    assert asr_total(client, user) == 0


def test_options_are_checked_against_the_live_catalog(client, make_user, asr_worker, media):
    user = make_user()
    french = submit(client, user, media["short.wav"], "short.wav", language="fr")
    assert french.status_code == 400 and "does not speak 'fr'" in french.json["message"]
    unknown = submit(client, user, media["short.wav"], "short.wav", model="whisper-huge")
    assert unknown.status_code == 400 and "unknown model 'whisper-huge'" in unknown.json["message"]
    assert asr_total(client, user) == 0


def test_vosk_hears_korean_speech_as_hangul_words(client, make_user, relay, asr_worker, media):
    user = make_user()
    reply = submit(client, user, media["korean.ogg"], "korean.ogg", engine="vosk")
    assert reply.status_code == 202, reply.json
    assert reply.json["params"]["model"] == "vosk-ko" and reply.json["params"]["language"] == "ko"
    job = wait_status(client, user, reply.json["id"], timeout=JOB_TIMEOUT)
    assert job["status"] == "succeeded", job["error"]
    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers).json["result"]
    assert result["engine"] == "vosk" and result["language"] == "ko"
    hangul = [w for w in result["words"] if HANGUL.search(w["word"])]
    assert len(hangul) >= 4 and all(set(w) == WORD_KEYS for w in result["words"])


def test_the_models_endpoint_lists_the_asr_catalog(client, asr_worker, offered):
    listed = client.get("/api/v1/models").json["asr"]
    assert listed == offered["models"]
    by_id = {m["id"]: m for m in listed}
    assert by_id[DEFAULT_WHISPER_MODEL]["languages"] == ["en"] and by_id["vosk-ko"]["size_bytes"]


def test_s1_another_users_asr_job_is_not_found(client, two_users, relay, asr_worker, media):
    owner, stranger = two_users
    reply = submit(client, owner, media["short.wav"], "short.wav")
    assert reply.status_code == 202, reply.json
    job_id = reply.json["id"]
    assert wait_status(client, owner, job_id, timeout=JOB_TIMEOUT)["status"] == "succeeded"
    paths = [f"/api/v1/jobs/{job_id}/input", f"/api/v1/jobs/{job_id}/chunks",
             f"/api/v1/jobs/{job_id}/result", f"/api/v1/jobs/{job_id}/export?format=srt"]
    for path in paths:
        assert client.get(path, headers=owner.headers).status_code == 200
        assert client.get(path, headers=stranger.headers).status_code == 404
    assert client.get(paths[0], headers=owner.headers).data == media["short.wav"]
