"""A convert step that puts other steps' subtitles into the video, driven by hand through the internal API.

The fan-in: the step reads the upload and several transcripts (an asr step and translations of it),
starts once when the last of them succeeds, whatever their order, and gets each language's WebVTT,
the same file GET /api/v1/pipelines/<id>/subtitles/<lang> serves. Real workers and media run the
whole subtitles preset in test_pipelines_workers.py.
"""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from services.api.kinds import base
from services.asr_worker.__main__ import capabilities as asr_capabilities
from services.convert_worker.__main__ import capabilities as convert_capabilities
from shared.db import db as handle
from shared.kinds.convert.subtitles import parse_cues
from shared.models import Job, WorkerRecord
from tests.integration.test_pipelines_api import claim, show, step_jobs, steps_by_name, worker  # noqa: F401
from tests.unit.test_media_probe import TESTSRC, TONE, make_media

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")

SEGMENTS = [{"start": 0.4, "end": 1.9, "text": "The cat is black."},
            {"start": 2.2, "end": 3.6, "text": "Good morning."}]
TRANSLATED = {"es": "El gato es negro.\nBuenos días.", "ca": "El gat és negre.\nBon dia."}


def steps(*subtitles: str, **video_options):
    return [{"name": "hear", "kind": "asr", "input": "upload", "options": {"language": "en"}},
            {"name": "es", "kind": "translate", "input": "hear", "options": {"source_lang": "en", "target_lang": "es"}},
            {"name": "ca", "kind": "translate", "input": "hear", "options": {"source_lang": "en", "target_lang": "ca"}},
            {"name": "video", "kind": "convert", "input": "upload", "subtitles": list(subtitles),
             "options": {"target": "mkv", **video_options}}]


@pytest.fixture(scope="module")
def lecture(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("subtitled-pipeline") / "lecture.mp4"
    return make_media(path, *TESTSRC, *TONE, "-t", "4", "-pix_fmt", "yuv420p", "-c:v", "libx264",
                      "-c:a", "aac").read_bytes()


def register(app, worker_id: str, kind: str, capabilities: dict) -> None:
    with app.app_context():
        handle.session.merge(WorkerRecord(id=worker_id, kind=kind, capabilities=capabilities))
        handle.session.commit()
        handle.session.remove()
    base._capabilities_cache.pop(kind, None)  # the API re-reads registrations every few seconds


def unregister(app, worker_id: str) -> None:
    with app.app_context():
        found = handle.session.get(WorkerRecord, worker_id)
        if found is not None:
            handle.session.delete(found)
            handle.session.commit()
        handle.session.remove()
    base._capabilities_cache.pop("asr", None)
    base._capabilities_cache.pop("convert", None)


@pytest.fixture
def media_workers(app):
    """An asr and a convert worker's registrations (with burn-in), without the workers."""
    register(app, "asr-registered-here", "asr", asr_capabilities())
    register(app, "convert-registered-here", "convert", convert_capabilities())
    yield
    unregister(app, "asr-registered-here")
    unregister(app, "convert-registered-here")


def post(client, user, content: bytes, body: dict):
    form = {key: value if isinstance(value, str) else __import__("json").dumps(value) for key, value in body.items()}
    return client.post("/api/v1/pipelines", headers=user.headers, content_type="multipart/form-data",
                       data={**form, "file": (io.BytesIO(content), "lecture.mp4")})


def succeed(worker, job_id: str, result: dict) -> dict:  # noqa: F811 - the imported fixture's name
    """Claim the job and report its success as a worker would; the report's body, to replay it."""
    body = {"claim_id": claim(worker, job_id)["claim_id"], "result": result}
    reply = worker("POST", f"/jobs/{job_id}/succeed", json=body)
    assert reply.json["status"] == "succeeded", reply.json
    return body


@pytest.mark.parametrize("order", [("es", "ca"), ("ca", "es")])
def test_the_video_step_starts_once_when_its_last_subtitles_succeed_with_each_languages_vtt(
        client, make_user, worker, app, lecture, media_workers, order):  # noqa: F811
    user = make_user()
    reply = post(client, user, lecture, {"steps": steps("es", "ca", "hear", burn_in="ca", subtitle_size=8)})
    assert reply.status_code == 202, reply.json
    view = reply.json
    assert steps_by_name(view)["video"]["status"] == "pending"  # it reads the upload, but subtitles too
    hear = steps_by_name(view)["hear"]["job_id"]
    succeed(worker, hear, {"text": "The cat is black. Good morning.", "language": "en", "duration": 4.0,
                           "segments": SEGMENTS, "words": []})
    started = steps_by_name(show(client, user, view["id"]))
    first, second = (started[name]["job_id"] for name in order)
    report = succeed(worker, first, {"translated_text": TRANSLATED[order[0]], "target_lang": order[0]})
    assert steps_by_name(show(client, user, view["id"]))["video"]["status"] == "pending"
    succeed(worker, second, {"translated_text": TRANSLATED[order[1]], "target_lang": order[1]})
    # The last success started it; a replay of the first success starts nothing more.
    assert worker("POST", f"/jobs/{first}/succeed", json=report).json["status"] == "succeeded"
    assert step_jobs(app, view["id"]) == [("ca", 1, "succeeded"), ("es", 1, "succeeded"),
                                          ("hear", 1, "succeeded"), ("video", 1, "queued")]
    done = show(client, user, view["id"])
    with app.app_context():
        job = handle.session.get(Job, steps_by_name(done)["video"]["job_id"])
        params, input_key = job.params, job.input_key
        handle.session.remove()
    assert input_key.startswith(f"pipelines/{view['id']}/input/")  # the upload, by reference
    assert params["burn_in"] == "ca" and params["subtitle_size"] == 8.0 and params["target"] == "mkv"
    assert [track["language"] for track in params["subtitles"]] == ["es", "ca", "en"]
    for track in params["subtitles"]:
        lang = track["language"]
        if lang != "en":
            served = client.get(done["subtitles"][lang]["vtt"], headers=user.headers).get_data(as_text=True)
            assert track["text"] == served
        cues = parse_cues(track["text"])
        assert [(cue.start, cue.end) for cue in cues] == [(0.4, 1.9), (2.2, 3.6)]
    assert parse_cues(params["subtitles"][0]["text"])[1].text == "Buenos días."
    assert parse_cues(params["subtitles"][2]["text"])[0].text == "The cat is black."


@pytest.mark.parametrize("body, words", [
    ({"steps": steps("es", burn_in="fr")}, "burn_in (fr) is not the language of any of the subtitles (es)"),
    ({"steps": steps("es", subtitles=[{"language": "es", "text": "WEBVTT"}])}, "leave out options.subtitles"),
    ({"steps": steps("es", target="mp3")}, "unknown option(s) subtitles for target mp3"),
    ({"steps": steps("es", "video")}, "not another step"),
    ({"steps": [{**step, "options": {}} if step["name"] == "hear" else step for step in steps("hear")]},
     "must name its language"),
    ({"preset": "subtitles", "options": {"target_langs": ["es", "ca"], "burn_in": "fr"}},
     "burn_in must be one of the target languages (es, ca)"),
    ({"preset": "subtitles", "options": {"target_lang": "es", "mux": "avi"}}, "mux must be one of"),
])
def test_a_video_step_that_cannot_work_is_refused_at_submit(client, make_user, app, lecture, media_workers,
                                                            body, words):
    user = make_user()
    reply = post(client, user, lecture, body)
    assert reply.status_code == 400, reply.json
    assert words in reply.json["message"], reply.json
    with app.app_context():
        assert handle.session.scalar(select(func.count()).select_from(Job).where(Job.user_id == user.id)) == 0
        handle.session.remove()


def test_burning_in_is_refused_when_no_convert_worker_can(client, make_user, app, lecture):
    with app.app_context():  # the registrations earlier tests' workers left
        handle.session.query(WorkerRecord).filter_by(kind="convert").delete()
        handle.session.commit()
        handle.session.remove()
    register(app, "asr-registered-here", "asr", asr_capabilities())
    register(app, "convert-without-libass", "convert",
             {**convert_capabilities(), "subtitles": {"soft": ["mkv", "mp4"], "burn_in": False}})
    try:
        user = make_user()
        burned = post(client, user, lecture, {"preset": "subtitles", "options": {"target_lang": "es", "burn_in": "es"}})
        muxed = post(client, user, lecture, {"preset": "subtitles", "options": {"target_lang": "es", "mux": "mkv"}})
        webm = post(client, user, lecture, {"preset": "subtitles", "options": {"target_lang": "es", "mux": "webm"}})
    finally:
        unregister(app, "asr-registered-here")
        unregister(app, "convert-without-libass")
    assert burned.status_code == 400 and "burns subtitles in" in burned.json["message"], burned.json
    assert muxed.status_code == 202, muxed.json
    assert webm.status_code == 400 and "puts subtitles into webm" in webm.json["message"], webm.json
