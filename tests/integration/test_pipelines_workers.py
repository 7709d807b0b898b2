"""Pipelines run by real workers (Whisper tiny.en, Apertium, ffmpeg) through the relay and RabbitMQ.

The speech is made by espeak-ng at test time from known English sentences; the Spanish and Catalan
words looked for are Apertium's translations of words of those sentences.
"""
from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
import webvtt
from PIL import Image
from sqlalchemy import select

from services.asr_worker.__main__ import capabilities as asr_capabilities
from services.asr_worker.__main__ import models_to_warm, warm
from services.asr_worker.catalog import installed_models
from services.asr_worker.transcribe import process as transcribe
from services.convert_worker.__main__ import capabilities as convert_capabilities
from services.convert_worker.convert import process as convert
from services.vision_worker.__main__ import warm_capabilities
from services.vision_worker.analyze import process as analyze
from shared import webhooks
from shared.db import db as handle
from shared.handler import PermanentError
from shared.models import Artifact, Job
from tests.conftest import wait_for
from tests.integration.test_webhooks import dispatcher, receiver  # noqa: F401 - fixtures
from tests.media import ENGLISH_SENTENCES, encode, speak, with_video
from tests.subtitle_checks import vtt_cues
from tests.unit.vision_drawing import printed_text

SPOKEN = " ".join(ENGLISH_SENTENCES[:4])  # the fox and the dog, a journey of a thousand miles, ...
PIPELINE_TIMEOUT = 240.0
NOTICE_LINES = ["The black cat", "Good morning"]


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """English speech as a WAV file and as a small video carrying it."""
    folder = tmp_path_factory.mktemp("pipeline-media")
    wav = speak(SPOKEN, folder / "lecture.wav")
    long = speak(" ".join(ENGLISH_SENTENCES * 2), folder / "long.wav")
    return {"wav": wav.read_bytes(), "mp4": with_video(wav, folder / "lecture.mp4").read_bytes(),
            "long.ogg": encode(long, folder / "long.ogg", "-c:a", "libopus", "-b:a", "24k").read_bytes()}


@pytest.fixture(scope="module")
def notice():
    """A PNG of two printed English lines, the first above the second."""
    drawn = [printed_text(line, scale=2.0, thickness=5)[0] for line in NOTICE_LINES]
    width = max(image.shape[1] for image in drawn)
    page = np.vstack([np.pad(image, ((0, 0), (0, width - image.shape[1]), (0, 0)), constant_values=255)
                      for image in drawn])
    out = io.BytesIO()
    Image.fromarray(page).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def asr_offered():
    """What an ASR worker reports once its default models are loaded."""
    warm(models_to_warm(installed_models(), ()))
    return asr_capabilities()


@pytest.fixture
def asr_worker(start_worker, asr_offered):
    return start_worker(handler=transcribe, kind="asr", capabilities=lambda: asr_offered)


@pytest.fixture(scope="module")
def vision_offered():
    """What a vision worker reports once it has loaded its models (OCR among them)."""
    return warm_capabilities()


@pytest.fixture
def vision_worker(start_worker, vision_offered):
    return start_worker(handler=analyze, kind="vision", capabilities=lambda: vision_offered)


@pytest.fixture
def convert_worker(start_worker):
    return start_worker(handler=convert, kind="convert", capabilities=convert_capabilities)


def submit(client, user, content: bytes | None = None, filename: str = "", **body):
    if content is None:
        reply = client.post("/api/v1/pipelines", headers=user.headers, json=body)
    else:
        form = {key: value if isinstance(value, str) else json.dumps(value)
                for key, value in body.items()}
        reply = client.post("/api/v1/pipelines", headers=user.headers, content_type="multipart/form-data",
                            data={**form, "file": (io.BytesIO(content), filename)})
    assert reply.status_code == 202, reply.json
    return reply.json


def finished(client, user, pipeline_id, timeout=PIPELINE_TIMEOUT):
    def ended():
        view = client.get(f"/api/v1/pipelines/{pipeline_id}", headers=user.headers).json
        return view if view["status"] != "running" else None
    return wait_for(ended, timeout=timeout, interval=0.3, message=f"pipeline {pipeline_id} to end")


def steps_by_name(view):
    return {step["name"]: step for step in view["steps"]}


def result(client, user, job_id):
    return client.get(f"/api/v1/jobs/{job_id}/result", headers=user.headers).json["result"]


def test_transcribe_translate_turns_english_speech_into_spanish_text(
        client, make_user, relay, asr_worker, translate_worker, speech, app):
    user = make_user()
    view = submit(client, user, speech["wav"], "lecture.wav", preset="transcribe-translate",
                  options={"target_lang": "es"})
    done = finished(client, user, view["id"])
    assert done["status"] == "succeeded", done
    steps = steps_by_name(done)
    spanish = result(client, user, steps["translate-es"]["job_id"])["translated_text"].lower()
    # Words of three sentences; not "zorro": tiny.en (int8, AVX2) hears espeak's "brown fox" as "roundfark".
    assert "perezoso" in spanish and "viaje" in spanish and "paciencia" in spanish, spanish
    # The asr job read the pipeline's upload where it lies: no copy, no second upload.
    with app.app_context():
        asr_job = handle.session.get(Job, steps["transcribe"]["job_id"])
        assert asr_job.input_key.startswith(f"pipelines/{view['id']}/input/")
        assert asr_job.user_id == user.id
        handle.session.remove()
    listed = client.get("/api/v1/jobs", headers=user.headers).json["items"]
    assert sorted((job["pipeline_step"], job["status"]) for job in listed) == [
        ("transcribe", "succeeded"), ("translate-es", "succeeded")]
    assert {job["pipeline_id"] for job in listed} == {view["id"]}


def test_subtitles_from_a_video_in_two_languages_keep_the_speech_timings(
        client, make_user, relay, asr_worker, translate_worker, convert_worker, speech, app):
    user = make_user()
    view = submit(client, user, speech["mp4"], "lecture.mp4", preset="subtitles",
                  options={"target_langs": ["es", "ca"]})
    done = finished(client, user, view["id"])
    assert done["status"] == "succeeded", done
    steps = steps_by_name(done)
    with app.app_context():
        audio = handle.session.scalars(select(Artifact).where(
            Artifact.job_id == steps["extract-audio"]["job_id"])).one()
        # The asr step read the convert step's artifact by reference.
        assert handle.session.get(Job, steps["transcribe"]["job_id"]).input_key == audio.storage_key
        handle.session.remove()
    segments = [s for s in result(client, user, steps["transcribe"]["job_id"])["segments"] if s["text"].strip()]
    assert segments
    words = {"es": ("viaje", "paciencia"), "ca": ("viatge", "paciència")}
    for lang in ("es", "ca"):
        assert set(done["subtitles"][lang]) == {"srt", "vtt"}
        reply = client.get(done["subtitles"][lang]["vtt"], headers=user.headers)
        assert reply.status_code == 200, reply.json
        cues = vtt_cues(webvtt.from_string(reply.get_data(as_text=True)))
        text = " ".join(cue[2] for cue in cues).lower()
        assert all(word in text for word in words[lang]), (lang, text)
        for segment in segments:
            starting = [cue for cue in cues if abs(cue[0] - segment["start"]) <= 0.3]
            assert starting, (lang, segment, cues)
        assert cues[-1][1] <= segments[-1]["end"] + 0.3 and cues[0][0] >= segments[0]["start"] - 0.3


def test_a_two_step_dag_passes_the_first_translation_to_the_second(client, make_user, relay, translate_worker):
    user = make_user()
    view = submit(client, user, steps=[
        {"name": "to-es", "kind": "translate", "options": {"text": "The cat is black.", "source_lang": "en",
                                                            "target_lang": "es"}},
        {"name": "back", "kind": "translate", "input": "to-es", "options": {"source_lang": "es",
                                                                             "target_lang": "en"}}])
    done = finished(client, user, view["id"], timeout=60)
    assert done["status"] == "succeeded", done
    steps = steps_by_name(done)
    assert "gato" in result(client, user, steps["to-es"]["job_id"])["translated_text"]
    assert "cat" in result(client, user, steps["back"]["job_id"])["translated_text"]


def sse_events(text: str) -> list[tuple[str, dict]]:
    """(event, data) of each event of a text/event-stream body."""
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_a_pipeline_streams_its_steps_as_they_run_and_posts_its_end_signed(
        client, make_user, relay, translate_worker, receiver, dispatcher):  # noqa: F811 - fixtures
    user = make_user()
    view = submit(client, user, callback_url=receiver.url, steps=[
        {"name": "to-es", "kind": "translate", "options": {"text": "Good morning.", "source_lang": "en",
                                                            "target_lang": "es"}},
        {"name": "back", "kind": "translate", "input": "to-es", "options": {"source_lang": "es",
                                                                             "target_lang": "en"}}])
    stream = client.get(f"/api/v1/pipelines/{view['id']}/events", headers=user.headers)
    assert stream.mimetype == "text/event-stream"
    events = sse_events(stream.get_data(as_text=True))  # ends with the pipeline
    assert events[-1] == ("end", {"status": "succeeded"})
    statuses = [data for event, data in events if event == "status"]
    assert statuses[-1]["status"] == "succeeded" and statuses[-1]["progress"]["percent"] == 100.0
    seen = {(step["name"], step["status"]) for data in statuses for step in data["steps"]}
    assert {("back", "pending"), ("to-es", "succeeded"), ("back", "succeeded")} <= seen
    percents = [data["progress"]["percent"] for data in statuses]
    assert percents == sorted(percents)

    wait_for(lambda: "pipeline.succeeded" in receiver.events(), message="the pipeline's webhook")
    delivery = next(item for item in receiver.received if json.loads(item["body"])["event"] == "pipeline.succeeded")
    secret = client.get("/api/v1/webhooks/secret", headers=user.headers).json["secret"]
    assert webhooks.verify(secret, delivery["headers"]["X-Conveyor-Signature"], delivery["body"])
    body = json.loads(delivery["body"])
    assert body["pipeline"]["id"] == view["id"] and body["pipeline"]["status"] == "succeeded"
    assert receiver.events().count("pipeline.succeeded") == 1


def refuses_cats(job, io):
    """A translate worker's domain function that cannot translate texts about cats."""
    if "cat" in job["params"]["text"]:
        raise PermanentError("this worker does not translate texts about cats")
    return {"translated_text": job["params"]["text"]}


def test_a_failing_step_fails_the_pipeline_and_the_step_after_it_never_starts(
        client, make_user, relay, start_worker, app, translate_pairs):
    # Its own pairs: the submit is checked against them (not against a registration another test left).
    start_worker(handler=refuses_cats, kind="translate", capabilities=lambda: {"pairs": translate_pairs})
    user = make_user()
    view = submit(client, user, steps=[
        {"name": "first", "kind": "translate", "options": {"text": "The cat is black.", "source_lang": "en",
                                                            "target_lang": "es"}},
        {"name": "second", "kind": "translate", "input": "first", "options": {"source_lang": "es",
                                                                               "target_lang": "en"}}])
    done = finished(client, user, view["id"], timeout=60)
    assert done["status"] == "failed"
    assert "'first'" in done["error"] and "texts about cats" in done["error"]
    assert steps_by_name(done)["second"]["status"] == "pending"
    with app.app_context():
        assert handle.session.scalars(select(Job.pipeline_step).where(Job.pipeline_id == view["id"])).all() == [
            "first"]
        handle.session.remove()


def test_read_translate_reads_an_image_and_gives_each_line_in_spanish_with_its_box(
        client, make_user, relay, vision_worker, translate_worker, notice):
    user = make_user()
    view = submit(client, user, notice, "notice.png", preset="read-translate", options={"target_lang": "es"})
    done = finished(client, user, view["id"], timeout=120)
    assert done["status"] == "succeeded", done
    lines = done["translated_lines"]["es"]
    assert [line["text"].lower() for line in lines] == [line.lower() for line in NOTICE_LINES]
    assert "gato" in lines[0]["translation"].lower() and "días" in lines[1]["translation"].lower(), lines
    # The first line's box lies above the second's, both inside the image.
    assert lines[0]["y"] + lines[0]["height"] / 2 <= lines[1]["y"] - lines[1]["height"] / 2 + 0.02
    assert all(0 < line["width"] <= 1 and 0 < line["height"] <= 1 for line in lines)


def test_cancel_during_asr_keeps_what_was_heard_and_the_translation_never_starts(
        client, make_user, relay, asr_worker, translate_worker, speech, app):
    user = make_user()
    view = submit(client, user, speech["long.ogg"], "long.ogg", preset="transcribe-translate",
                  options={"target_langs": ["es", "ca"]}, priority="high")
    asr_job = steps_by_name(view)["transcribe"]["job_id"]

    def hearing():
        job = client.get(f"/api/v1/jobs/{asr_job}", headers=user.headers).json
        return job if job["status"] == "running" and job["progress"]["current"] else None
    wait_for(hearing, timeout=120, interval=0.1, message="the asr step to report progress")
    reply = client.post(f"/api/v1/pipelines/{view['id']}/cancel", headers=user.headers)
    assert reply.status_code == 200, reply.json
    assert reply.json["status"] == "cancelled"
    time.sleep(3)  # room for a late success or a stray start to show up, if the code allowed one
    after = client.get(f"/api/v1/pipelines/{view['id']}", headers=user.headers).json
    steps = steps_by_name(after)
    assert after["status"] == "cancelled"
    assert steps["transcribe"]["status"] in ("partial", "cancelled")
    assert steps["translate-es"]["status"] == steps["translate-ca"]["status"] == "pending"
    with app.app_context():
        assert handle.session.scalars(select(Job.pipeline_step).where(Job.pipeline_id == view["id"])).all() == [
            "transcribe"]
        handle.session.remove()
