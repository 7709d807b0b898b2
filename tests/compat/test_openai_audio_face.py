"""OpenAI's speech-to-text API at /v1, driven by the unchanged official ``openai`` client over HTTP.

A real relay and a real asr worker (Whisper tiny.en; Whisper base too when it is installed) hear
speech that espeak-ng makes at test time.
"""
from __future__ import annotations

import io
import json
import os
import string
import time

import openai
import pytest
import requests
import srt
import webvtt
from openai import OpenAI
from sqlalchemy import select

from services.api.kinds.base import forget_capabilities
from services.asr_worker.__main__ import capabilities
from shared.db import db as handle
from shared.handler import PermanentError
from shared.models import Job, WorkerRecord
from shared.principal import user_for_api_key
from tests.conftest import wait_for
from tests.media import normalized_words, speak, word_error_rate
from tests.subtitle_checks import check_cues, srt_cues, vtt_cues
from tests.whisper_base import MODEL_ID as WHISPER_BASE
from tests.whisper_base import whisper_base_models_dir

pytest_plugins = ("tests.compat.asr_support",)

SPANISH = "El perro come pan. La casa es grande y bonita. Hoy hace buen tiempo."
CALL_TIMEOUT = 120.0


@pytest.fixture(scope="module", autouse=True)
def whisper_base_offered(app):
    """Whether the workers offer Whisper base: their models directory is the one it was installed in."""
    root = whisper_base_models_dir()
    if root is None:
        yield False
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVEYOR_ASR_MODELS_DIR", str(root))
        yield True
    # Registrations count for a day: left in place, they would make later modules' catalogs offer it.
    with app.app_context():
        for record in handle.session.scalars(select(WorkerRecord).where(WorkerRecord.kind == "asr")):
            if WHISPER_BASE in {model["id"] for model in (record.capabilities or {}).get("models", [])}:
                handle.session.delete(record)
        handle.session.commit()
        handle.session.remove()
    forget_capabilities()


@pytest.fixture
def api_key(auth_client, make_user):
    """A fresh user's Conveyor API key (``cvk_...``), the credential OpenAI clients send as their key."""
    user = make_user()
    reply = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={"name": "openai"})
    assert reply.status_code == 201
    return reply.json["key"]


def openai_client(live_api: str, key: str) -> OpenAI:
    # No retries: the client would otherwise repeat every 5xx answer twice.
    return OpenAI(base_url=f"{live_api}/v1", api_key=key, max_retries=0, timeout=CALL_TIMEOUT)


@pytest.fixture
def client_for(live_api, api_key):
    return openai_client(live_api, api_key)


@pytest.fixture
def running(live_api, api_key, relay, asr_worker):
    """The relay and a real asr worker, once the face lists the worker's default model."""
    def listed():
        reply = requests.get(f"{live_api}/v1/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=5)
        return "whisper-tiny.en" in {entry["id"] for entry in reply.json()["data"]}
    wait_for(listed, message="the asr worker's models")
    return asr_worker


def transcribe(client: OpenAI, audio: bytes, **options):
    return client.audio.transcriptions.create(file=("speech.mp3", audio), **{"model": "whisper-1", **options})


def latest_job(app, api_key: str) -> dict:
    """The newest job of the key's owner, as the database holds it."""
    with app.app_context():
        owner = user_for_api_key(api_key)
        job = handle.session.query(Job).filter(Job.user_id == owner.id).order_by(Job.created_at.desc()).first()
        found = {"kind": job.kind, "status": job.status, "params": job.params, "result": job.result}
        handle.session.remove()
    return found


def test_json_is_the_transcript_of_the_spoken_text(client_for, running, speech_mp3, spoken_text):
    transcript = transcribe(client_for, speech_mp3)
    assert isinstance(transcript, openai.types.audio.Transcription)
    assert word_error_rate(spoken_text, transcript.text) <= 0.25, transcript.text


def test_text_is_plain_text(client_for, running, speech_mp3, spoken_text):
    text = transcribe(client_for, speech_mp3, response_format="text", language="en")
    assert isinstance(text, str) and not text.lstrip().startswith("{")
    assert word_error_rate(spoken_text, text) <= 0.25, text


def segment_texts(app, api_key: str) -> list[str]:
    return [segment["text"] for segment in latest_job(app, api_key)["result"]["segments"]]


def test_srt_cues_are_whole_words_of_the_transcripts_sentences(app, api_key, client_for, running, speech_mp3,
                                                                spoken_text):
    cues = list(srt.parse(transcribe(client_for, speech_mp3, response_format="srt")))
    assert len(cues) >= 2 and [cue.index for cue in cues] == list(range(1, len(cues) + 1))
    assert word_error_rate(spoken_text, " ".join(cue.content for cue in cues)) <= 0.25
    check_cues(srt_cues(cues), segment_texts(app, api_key))


def test_vtt_cues_are_whole_words_of_the_transcripts_sentences(app, api_key, client_for, running, speech_mp3,
                                                                spoken_text):
    body = transcribe(client_for, speech_mp3, response_format="vtt")
    assert body.startswith("WEBVTT")
    captions = webvtt.from_string(body)
    assert word_error_rate(spoken_text, " ".join(c.text for c in captions)) <= 0.25
    check_cues(vtt_cues(captions), segment_texts(app, api_key))


SEGMENT_FIELDS = {"id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio",
                  "no_speech_prob"}


def raw_verbose(client: OpenAI, audio: bytes, granularities: list[str] | None) -> dict:
    """verbose_json as the server sent it: the field set, not what the client's model makes of it."""
    options = {"timestamp_granularities": granularities} if granularities is not None else {}
    raw = client.audio.transcriptions.with_raw_response.create(
        file=("speech.mp3", audio), model="whisper-1", response_format="verbose_json", **options)
    return json.loads(raw.text)


def test_verbose_json_with_word_and_segment_timestamps_from_a_catalog_model(client_for, running, speech_mp3,
                                                                           spoken_text):
    verbose = transcribe(client_for, speech_mp3, model="whisper-tiny.en", response_format="verbose_json",
                         timestamp_granularities=["word", "segment"], prompt="Proverbs.", temperature=0.2)
    assert isinstance(verbose, openai.types.audio.TranscriptionVerbose)
    assert verbose.model_extra["task"] == "transcribe" and verbose.language == "english"
    assert word_error_rate(spoken_text, verbose.text) <= 0.25, verbose.text
    assert 10.0 < verbose.duration < 16.0
    segments = verbose.segments
    assert [s.id for s in segments] == list(range(len(segments))) and segments
    assert all(set(s.model_dump()) == SEGMENT_FIELDS for s in segments)
    assert all(0.0 <= s.start < s.end <= verbose.duration for s in segments)
    # What faster-whisper decoded, passed on: token ids, the decoder's figures.
    assert all(s.tokens and all(isinstance(t, int) and t >= 0 for t in s.tokens) for s in segments)
    assert all(s.avg_logprob <= 0.0 and s.compression_ratio > 0.0 for s in segments)
    assert all(0.0 <= s.no_speech_prob <= 1.0 and 0.0 <= s.temperature <= 1.0 for s in segments)
    assert [s.seek for s in segments] == sorted(s.seek for s in segments)
    assert " ".join(s.text for s in segments) == verbose.text
    words = verbose.words
    assert normalized_words(" ".join(w.word for w in words)) == normalized_words(verbose.text)
    assert all(w.word and w.word == w.word.strip(string.punctuation) for w in words), [w.word for w in words]
    assert all(0.0 <= w.start <= w.end <= verbose.duration for w in words)
    assert all(a.end <= b.start for a, b in zip(words, words[1:]))


def test_word_granularity_alone_gives_words_and_no_segments(client_for, running, short_mp3):
    verbose = raw_verbose(client_for, short_mp3, ["word"])
    assert set(verbose) == {"task", "language", "duration", "text", "words"}
    heard = [w["word"] for w in verbose["words"]]
    assert normalized_words(" ".join(heard)) == normalized_words(verbose["text"]) and "seconds" in heard
    assert verbose["text"].rstrip().endswith(".") and not heard[-1].endswith(".")
    assert all(set(w) == {"word", "start", "end"} for w in verbose["words"])


def test_segments_only_without_granularities_and_with_segment(client_for, running, short_mp3):
    for granularities in (None, ["segment"]):
        verbose = raw_verbose(client_for, short_mp3, granularities)
        assert set(verbose) == {"task", "language", "duration", "text", "segments"}
        assert verbose["segments"] and all(set(s) == SEGMENT_FIELDS for s in verbose["segments"])
        assert "seconds" in normalized_words(verbose["text"])


def test_each_request_is_a_native_asr_job_of_the_caller(app, api_key, client_for, running, short_mp3):
    transcribe(client_for, short_mp3)
    job = latest_job(app, api_key)
    assert job["kind"] == "asr" and job["status"] == "succeeded"
    assert job["params"]["model"] == "whisper-tiny.en" and "task" not in job["params"]


def test_a_wrong_key_is_an_authentication_error(live_api, running, speech_mp3):
    with pytest.raises(openai.AuthenticationError) as raised:
        transcribe(openai_client(live_api, "cvk_not-a-key"), speech_mp3)
    assert raised.value.status_code == 401
    assert raised.value.body["type"] == "authentication_error" and raised.value.code == "invalid_api_key"


def test_an_unknown_model_is_a_bad_request_naming_the_models(client_for, running, speech_mp3):
    with pytest.raises(openai.BadRequestError) as raised:
        transcribe(client_for, speech_mp3, model="whisper-huge")
    assert raised.value.param == "model" and raised.value.code == "model_not_found"
    assert "whisper-1" in raised.value.body["message"] and "whisper-tiny.en" in raised.value.body["message"]


def test_a_file_that_is_not_audio_is_a_bad_request(client_for, running):
    with pytest.raises(openai.BadRequestError) as raised:
        client_for.audio.transcriptions.create(model="whisper-1", file=("notes.mp3", b"plain text, no sound " * 50))
    assert raised.value.param == "file" and "cannot be transcribed" in raised.value.body["message"]


def test_models_list_holds_whisper_1_and_the_catalog_ids(client_for, running, whisper_base_offered):
    listed = {model.id: model for model in client_for.models.list()}
    expected = {"whisper-1", "whisper-tiny.en", "vosk-ko"} | ({WHISPER_BASE} if whisper_base_offered else set())
    assert expected <= set(listed)
    assert all(model.object == "model" and model.owned_by == "conveyor" for model in listed.values())
    # created: when the model's files were installed; whisper-1 is the default model, tiny.en.
    assert all(1_000_000_000 < model.created <= time.time() for model in listed.values())
    assert listed["whisper-1"].created == listed["whisper-tiny.en"].created
    assert client_for.models.retrieve("vosk-ko").created == listed["vosk-ko"].created
    with pytest.raises(openai.NotFoundError):
        client_for.models.retrieve("gpt-4o")


def test_a_failed_job_is_a_server_error_with_the_jobs_message(live_api, api_key, asr_registered, relay, start_worker,
                                                             short_mp3):
    def refuse(job, io):
        raise PermanentError("the audio could not be decoded: refused in test")
    start_worker(handler=refuse, kind="asr", capabilities=capabilities)
    with pytest.raises(openai.InternalServerError) as raised:
        transcribe(openai_client(live_api, api_key), short_mp3)
    assert raised.value.status_code == 500 and raised.value.type == "server_error"
    assert "ended failed: the audio could not be decoded: refused in test" in raised.value.body["message"]


def test_a_model_that_cannot_translate_is_refused_for_translations(client_for, running, short_mp3,
                                                                   whisper_base_offered):
    with pytest.raises(openai.BadRequestError) as raised:
        client_for.audio.translations.create(model="whisper-tiny.en", file=("speech.mp3", short_mp3))
    expected = "cannot translate; models that do: whisper-base" if whisper_base_offered else \
        "No installed model translates speech to English"
    assert raised.value.param == "model" and expected in raised.value.body["message"]


@pytest.fixture
def spanish_wav(whisper_base_offered, speech_dir) -> bytes:
    if not whisper_base_offered:
        pytest.skip("Whisper base is not installed: no model here speaks Spanish or translates")
    return speak(SPANISH, speech_dir / "spanish.wav", voice="es", words_per_minute=130).read_bytes()


def test_whisper_1_takes_a_model_that_speaks_the_language_asked(app, api_key, client_for, running, spanish_wav):
    text = transcribe(client_for, spanish_wav, language="es", response_format="text")
    assert "casa" in text.lower() and latest_job(app, api_key)["params"]["model"] == WHISPER_BASE


def test_spanish_speech_is_translated_to_english(app, api_key, client_for, running, spanish_wav):
    translated = client_for.audio.translations.create(model="whisper-1", file=("es.wav", spanish_wav),
                                                      response_format="verbose_json")
    assert translated.language == "english" and translated.model_extra["task"] == "translate"
    assert "house" in translated.text.lower() and "casa" not in translated.text.lower()
    job = latest_job(app, api_key)
    assert job["params"]["task"] == "translate" and job["params"]["model"] == WHISPER_BASE


# Without a running worker: the checks before a job is queued, and the time limit.

def form(audio: bytes, **fields) -> dict:
    return {"file": (io.BytesIO(audio), "speech.mp3"), "model": "whisper-1", **fields}


@pytest.mark.parametrize(("fields", "param", "message"), [
    ({"response_format": "diarized_json"}, "response_format", "response_format must be one of"),
    ({"timestamp_granularities[]": "sentence"}, "timestamp_granularities", "not sentence"),
    ({"timestamp_granularities[]": "word", "response_format": "json"}, "timestamp_granularities",
     "needs response_format 'verbose_json'"),
    ({"temperature": "3"}, "temperature", "between 0 and 1"),
    ({"stream": "true"}, "stream", "Streaming is not supported"),
    ({"model": ""}, "model", "you must provide a model"),
    ({"model": "whisper-tiny.en", "language": "fr"}, "language", "does not speak 'fr'"),
])
def test_bad_requests_name_the_field_in_openais_shape(client, api_key, asr_registered, short_mp3, fields, param,
                                                      message):
    reply = client.post("/v1/audio/transcriptions", headers={"Authorization": f"Bearer {api_key}"},
                        content_type="multipart/form-data", data=form(short_mp3, **fields))
    assert reply.status_code == 400
    error = reply.json["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert error["param"] == param and message in error["message"]


def test_a_missing_file_is_a_bad_request(client, api_key, asr_registered):
    reply = client.post("/v1/audio/transcriptions", headers={"Authorization": f"Bearer {api_key}"},
                        content_type="multipart/form-data", data={"model": "whisper-1"})
    assert reply.status_code == 400 and reply.json["error"]["param"] == "file"


def test_a_file_over_the_upload_limit_is_413(client, api_key, asr_registered):
    too_big = os.urandom(int(1.5 * 1024 * 1024))  # the tests' limit is 1 MB
    reply = client.post("/v1/audio/transcriptions", headers={"Authorization": f"Bearer {api_key}"},
                        content_type="multipart/form-data", data=form(too_big))
    assert reply.status_code == 413 and reply.json["error"]["type"] == "invalid_request_error"


def test_an_access_token_works_as_the_key(live_api, make_user, asr_registered):
    listed = openai_client(live_api, make_user().token).models.list()
    assert "whisper-tiny.en" in {model.id for model in listed}


def test_no_answer_in_time_is_504_and_the_job_is_cancelled(app, live_api, api_key, asr_registered, short_mp3,
                                                           monkeypatch):
    monkeypatch.setitem(app.config, "OPENAI_AUDIO_WAIT_SECONDS", 0.3)
    with pytest.raises(openai.InternalServerError) as raised:
        transcribe(openai_client(live_api, api_key), short_mp3)
    assert raised.value.status_code == 504 and raised.value.code == "timeout"
    assert "did not finish within 0.3 s" in raised.value.body["message"]
    assert latest_job(app, api_key)["status"] == "cancelled"
