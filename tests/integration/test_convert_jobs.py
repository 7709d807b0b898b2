"""Conversions through the real API, broker, relay and a convert worker, on clips made by ffmpeg."""
from __future__ import annotations

import io
import json
import re
import socket
import tempfile
from pathlib import Path

import pytest

from services.api.kinds import base
from services.api.kinds.convert import ConvertParamsSchema
from services.convert_worker.__main__ import capabilities
from services.convert_worker.convert import process
from shared.db import db as handle
from shared.kinds.convert.targets import catalog
from shared.media_probe import probe
from shared.models import WorkerRecord
from tests.conftest import wait_for
from tests.integration.test_pipeline import wait_status
from tests.unit.test_convert_process import ffmpeg_children
from tests.unit.test_media_probe import TONE, _FifoWatch, make_media

TINY = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25"]
H264_AAC = ["-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac"]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("convert-jobs")
    return {
        "mp4": make_media(folder / "holiday clip.mp4", *TINY, *TONE, "-t", "2", *H264_AAC),
        "mkv": make_media(folder / "h264.mkv", *TINY, *TONE, "-t", "2", *H264_AAC),
        "silent": make_media(folder / "silent.mp4", *TINY, "-t", "1", "-pix_fmt", "yuv420p",
                             "-c:v", "libx264"),
        # 20 s that cannot be copied into mp4 (mpeg4 video), under the tests' 1 MB upload limit.
        "long": make_media(folder / "long.mkv", "-f", "lavfi", "-i",
                           "testsrc=size=320x240:rate=25", *TONE, "-t", "20", "-c:v", "mpeg4",
                           "-b:v", "100k", "-c:a", "aac", "-b:a", "32k"),
    }


@pytest.fixture
def registered_convert_worker(app):
    """A convert worker's registration, as a running worker leaves it (submit needs one)."""
    with app.app_context():
        handle.session.merge(WorkerRecord(id="convert-registered-in-test", kind="convert",
                                          capabilities=capabilities()))
        handle.session.commit()


@pytest.fixture
def convert_worker(start_worker, registered_convert_worker):
    return start_worker(handler=process, kind="convert", capabilities=capabilities)


def submit(client, user, path: Path | None = None, *, data: bytes | None = None,
           filename: str | None = None, **params):
    body = data if data is not None else path.read_bytes()
    form = {"file": (io.BytesIO(body), filename or path.name),
            **{name: str(value) for name, value in params.items()}}
    return client.post("/api/v1/jobs/convert", headers=user.headers, data=form)


def submitted(client, user, path: Path, **params) -> dict:
    reply = submit(client, user, path, **params)
    assert reply.status_code == 202, reply.json
    return reply.json


def result_of(client, user, job_id) -> dict:
    return client.get(f"/api/v1/jobs/{job_id}/result", headers=user.headers).json["result"]


def download(client, user, job: dict, tmp_path: Path):
    """The job's one artifact through its listed URL: (reply, local copy)."""
    [artifact] = job["artifacts"]
    reply = client.get(artifact["url"], headers=user.headers)
    copy = tmp_path / artifact["name"]
    copy.write_bytes(reply.data)
    return reply, copy


def started_job(client, user, job_id) -> dict | None:
    """The job's view once its worker has reported some progress, else None."""
    view = client.get(f"/api/v1/jobs/{job_id}", headers=user.headers).json
    return view if view["progress"]["current"] else None


def stored_files(config) -> set[Path]:
    """Everything stored under the storage directory, but for the folder of all jobs: the first upload
    of a run creates it, so whether it exists depends on which test ran first."""
    return set(config.STORAGE_DIR.rglob("*")) - {config.STORAGE_DIR / "jobs"}


def assert_refused_and_nothing_queued(client, user, config, send, message):
    """``send()`` answers 400 with ``message``, and leaves no job and no stored file behind."""
    before = stored_files(config)
    reply = send()
    assert reply.status_code == 400, reply.json
    assert re.search(message, reply.json["message"]), reply.json["message"]
    assert client.get("/api/v1/jobs", headers=user.headers).json["total"] == 0
    assert stored_files(config) == before


def test_the_params_schema_names_every_option_of_the_catalog():
    options = {option for target in catalog().values() for option in target["options"]}

    assert options | {"target"} <= set(ConvertParamsSchema().fields)


def test_an_mp4_becomes_a_webm_download_that_probes_as_vp9_and_opus(
        client, make_user, relay, convert_worker, media, tmp_path):
    user = make_user()
    job = submitted(client, user, media["mp4"], target="webm", duration="9999")

    done = wait_status(client, user, job["id"])

    # The probed length, kept for the queue's estimates; what a client sends there is ignored.
    assert job["params"]["duration"] == pytest.approx(2.0, abs=0.1)

    assert done["status"] == "succeeded", done["error"]
    result = result_of(client, user, job["id"])
    assert result["artifact"] == "holiday_clip.webm" == done["artifacts"][0]["name"]
    assert done["artifacts"][0]["url"] == f"/api/v1/jobs/{job['id']}/artifacts/holiday_clip.webm"
    reply, copy = download(client, user, done, tmp_path)
    assert reply.status_code == 200
    assert reply.mimetype == "video/webm"
    assert reply.headers["Content-Disposition"] == "attachment; filename=holiday_clip.webm"
    out = probe(copy)
    assert (out.first("video").codec_name, out.first("audio").codec_name) == ("vp9", "opus")
    assert out.duration == pytest.approx(probe(media["mp4"]).duration, abs=0.1)
    assert result["duration"] == pytest.approx(out.duration, abs=0.01)
    assert result["remuxed"] is False and result["size"] == len(reply.data)


def test_progress_counts_media_seconds_up_to_the_whole_clip(client, make_user, relay,
                                                            convert_worker, media):
    user = make_user()
    job = submitted(client, user, media["mp4"], target="webm", start="0.5")

    progress = wait_status(client, user, job["id"])["progress"]

    assert progress["unit"] == "seconds"
    assert progress["current"] == progress["total"] == pytest.approx(1.5, abs=0.1)
    assert progress["percent"] == 100.0


def test_h264_aac_mkv_to_mp4_is_remuxed(client, make_user, relay, convert_worker, media,
                                        tmp_path):
    user = make_user()
    job = submitted(client, user, media["mkv"], target="mp4")

    done = wait_status(client, user, job["id"])

    result = result_of(client, user, job["id"])
    assert result["remuxed"] is True and result["copied_streams"] == ["video", "audio"]
    reply, copy = download(client, user, done, tmp_path)
    assert (reply.mimetype, copy.name) == ("video/mp4", "h264.mp4")
    out = probe(copy)
    assert (out.demuxer, out.first("video").codec_name, out.first("audio").codec_name) == \
        ("mov", "h264", "aac")


def test_cancel_mid_transcode_kills_ffmpeg_and_keeps_no_artifact(client, make_user, relay,
                                                                 convert_worker, media):
    user = make_user()
    job = submitted(client, user, media["long"], target="mp4", width=1280)
    running = wait_for(lambda: started_job(client, user, job["id"]), timeout=30,
                       message="the transcode to report progress")

    reply = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user.headers)

    assert reply.json["status"] == "cancelled"
    assert running["progress"]["current"] < running["progress"]["total"]
    # The worker learns of the cancel from its next progress report (ffmpeg writes two a second).
    wait_for(lambda: not ffmpeg_children(), timeout=3, message="ffmpeg to be killed")
    wait_for(lambda: not convert_worker._busy.is_set(), timeout=3, message="the worker to stop")
    view = client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).json
    assert (view["status"], view["artifacts"]) == ("cancelled", [])
    assert client.get(f"/api/v1/jobs/{job['id']}/artifacts/long.mp4",
                      headers=user.headers).status_code == 404
    assert not list(Path(tempfile.gettempdir()).glob(f"conveyor-{job['id']}-*"))


def test_s1_another_users_convert_job_and_artifact_are_404(client, two_users, relay,
                                                           convert_worker, media):
    owner, other = two_users
    job = submitted(client, owner, media["mkv"], target="mp4")
    done = wait_status(client, owner, job["id"])
    url = done["artifacts"][0]["url"]
    assert client.get(url, headers=owner.headers).status_code == 200

    assert client.get(url, headers=other.headers).status_code == 404
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=other.headers).status_code == 404
    assert client.get(f"/api/v1/jobs/{job['id']}/result", headers=other.headers).status_code == 404


def test_random_bytes_named_mp4_are_refused_at_submit(client, make_user, config,
                                                      registered_convert_worker):
    user = make_user()
    noise = bytes(range(256)) * 64

    assert_refused_and_nothing_queued(
        client, user, config,
        lambda: submit(client, user, data=noise, filename="noise.mp4", target="webm"),
        "not a media file that can be decoded")


def test_audio_target_from_a_silent_video_is_refused_at_submit(client, make_user, config, media,
                                                               registered_convert_worker):
    user = make_user()
    assert_refused_and_nothing_queued(
        client, user, config, lambda: submit(client, user, media["silent"], target="mp3"),
        r"the input has no audio stream \(a silent video\?\), so it cannot become mp3")


@pytest.mark.parametrize("params, message", [
    ({"target": "avi"}, r"unknown target 'avi'; supported targets: mp4, webm, mkv, mov, gif"),
    ({}, r"a target is required; supported targets: mp4, webm"),
    ({"target": "gif", "crf": "20"}, r"unknown option\(s\) crf .*supported options: start, end"),
    ({"target": "mp4", "start": "5"}, r"start \(5 s\) must be before the end"),
])
def test_bad_targets_and_options_are_refused_listing_what_is_supported(
        client, make_user, config, media, registered_convert_worker, params, message):
    user = make_user()
    assert_refused_and_nothing_queued(
        client, user, config, lambda: submit(client, user, media["mkv"], **params), message)


def test_s10_a_playlist_renamed_mp4_is_refused_without_reading_or_connecting(
        client, make_user, config, registered_convert_worker, tmp_path):
    user = make_user()
    watch = _FifoWatch(tmp_path / "segment.ts")
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        playlist = ("#EXTM3U\n#EXT-X-TARGETDURATION:10\n"
                    f"#EXTINF:10,\n{watch.path}\n"
                    f"#EXTINF:10,\nhttp://127.0.0.1:{server.getsockname()[1]}/segment.ts\n"
                    "#EXT-X-ENDLIST\n")

        assert_refused_and_nothing_queued(
            client, user, config,
            lambda: submit(client, user, data=playlist.encode(), filename="movie.mp4",
                           target="webm"),
            "not an accepted media container|not a media file that can be decoded")
        with pytest.raises(BlockingIOError):
            server.accept()
    assert watch.stop() is False


def test_no_convert_worker_means_503(client, make_user, app, media):
    with app.app_context():
        handle.session.query(WorkerRecord).filter_by(kind="convert").delete()
        handle.session.commit()
    # The API keeps live capabilities for a few seconds; forget the registration deleted above.
    base._capabilities_cache.pop("convert", None)

    reply = submit(client, make_user(), media["mkv"], target="mp4")

    assert reply.status_code == 503 and "convert worker" in reply.json["message"]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("convert-pictures")
    gradient = Image.linear_gradient("L").resize((400, 300)).convert("RGB")
    gradient.save(folder / "scan.png", "PNG")
    gradient.save(folder / "photo.jpg", "JPEG")
    return {"png": folder / "scan.png", "jpg": folder / "photo.jpg"}


@pytest.mark.parametrize("source, params, name, mimetype, codec, size", [
    ("png", {"target": "jpg"}, "scan.jpg", "image/jpeg", "mjpeg", (400, 300)),
    ("jpg", {"target": "png"}, "photo.png", "image/png", "png", (400, 300)),
    ("png", {"target": "webp", "width": 200, "quality": 60}, "scan.webp", "image/webp", "webp",
     (200, 150)),
])
def test_an_image_becomes_another_image_through_a_real_worker(
        client, make_user, relay, convert_worker, pictures, tmp_path, source, params, name,
        mimetype, codec, size):
    user = make_user()
    job = submitted(client, user, pictures[source], **params)

    done = wait_status(client, user, job["id"])

    assert done["status"] == "succeeded", done["error"]
    reply, copy = download(client, user, done, tmp_path)
    assert (reply.status_code, reply.mimetype, copy.name) == (200, mimetype, name)
    video = probe(copy).first("video")
    assert (video.codec_name, (video.width, video.height)) == (codec, size)
    assert result_of(client, user, job["id"])["size"] == len(reply.data)


def test_an_image_to_a_video_target_is_refused_naming_what_each_accepts(
        client, make_user, config, pictures, registered_convert_worker):
    user = make_user()
    assert_refused_and_nothing_queued(
        client, user, config, lambda: submit(client, user, pictures["png"], target="mp4"),
        r"the input is a still image \(png\), so it cannot become mp4, which is made from a "
        r"video; an image can become jpg, png, webp")


def test_the_models_catalog_lists_convert_targets_with_options_and_inputs(
        client, registered_convert_worker):
    base._capabilities_cache.pop("convert", None)

    listed = {entry["id"]: entry for entry in client.get("/api/v1/models").json["convert"]}

    assert listed["webp"]["inputs"] == ["image", "video"]
    assert {"width", "height", "quality"} <= set(listed["webp"]["options"])
    assert listed["mp3"]["inputs"] == ["audio", "video"]


def test_a_convert_job_muxes_subtitles_sent_as_a_json_form_field(client, make_user, relay, convert_worker, media,
                                                                 tmp_path):
    user = make_user()
    srt = "1\n00:00:00,200 --> 00:00:01,500\nHola\n"
    job = submitted(client, user, media["mkv"], target="mkv",
                    subtitles=json.dumps([{"language": "es", "text": srt, "title": "Español"}]))

    done = wait_status(client, user, job["id"])

    assert result_of(client, user, job["id"])["subtitles"] == [{"language": "es", "title": "Español"}]
    _, copy = download(client, user, done, tmp_path)
    [stream] = [s for s in probe(copy).streams if s.codec_type == "subtitle"]
    assert (stream.codec_name, stream.language, stream.title) == ("subrip", "spa", "Español")


def test_subtitles_that_are_no_srt_or_vtt_are_refused_at_submit(client, make_user, config, registered_convert_worker,
                                                                 media):
    user = make_user()
    assert_refused_and_nothing_queued(
        client, user, config, lambda: submit(client, user, media["mp4"], target="mp4", subtitles=json.dumps(
            [{"language": "es", "text": "1\n00:00:01,000 -> 00:00:02,000\nHola\n"}])),
        r"subtitle 1 \(es\): line 2: expected a cue timing")
