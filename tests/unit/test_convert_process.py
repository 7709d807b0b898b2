"""process(job, io) end to end on real clips: every target, trims, remux, cancel, limits."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from services.convert_worker.convert import artifact_name, process
from services.convert_worker.runner import run_ffmpeg
from shared.handler import JobCancelled, PermanentError
from shared.media_probe import probe
from tests.fakes import FakeJobIO
from tests.unit.test_media_probe import TESTSRC, TONE, make_media

# What each target promises: (container as ffmpeg names it, video codec, audio codec).
PROMISES = {
    "mp4": ("mov", "h264", "aac"), "webm": ("matroska", "vp9", "opus"),
    "mkv": ("matroska", None, None), "mov": ("mov", "h264", "aac"), "gif": ("gif", "gif", None),
    "mp3": ("mp3", None, "mp3"), "wav": ("wav", None, "pcm_s16le"), "ogg": ("ogg", None, "opus"),
    "flac": ("flac", None, "flac"), "m4a": ("mov", None, "aac"),
}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("convert")
    return {
        # mpeg4 + mp3 in AVI: nothing fits mp4/webm/mov, so those targets really transcode.
        "clip": make_media(folder / "clip.avi", *TESTSRC, *TONE, "-t", "2", "-c:v", "mpeg4",
                           "-c:a", "libmp3lame"),
        "h264": make_media(folder / "h264.mkv", *TESTSRC, *TONE, "-t", "3", "-pix_fmt",
                           "yuv420p", "-c:v", "libx264", "-c:a", "aac"),
        "mpeg4": make_media(folder / "mpeg4.mkv", *TESTSRC, *TONE, "-t", "3", "-c:v", "mpeg4",
                            "-c:a", "aac"),
        "long": make_media(folder / "long.avi", *TESTSRC, *TONE, "-t", "20", "-c:v", "mpeg4",
                           "-c:a", "pcm_s16le"),
    }


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """Where process() makes its temporary files, so tests can see that none are left."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def run(source: Path, tmp_path: Path, cancel_after: int | None = None, **params):
    io = FakeJobIO(input_file=source, workdir=tmp_path, cancel_after_events=cancel_after)
    job = {"id": "job-1", "kind": "convert", "number": 1, "params": params,
           "input": {"filename": source.name, "content_type": "video/x-msvideo", "size": 1},
           "attempt": 1}
    return process(job, io), io


def ffmpeg_children() -> list[int]:
    """Processes (zombies included) whose parent is this test process and that run ffmpeg."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # /proc/<pid>/stat is "pid (comm) state ppid ..."; comm may itself hold spaces.
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == os.getpid() and "ffmpeg" in comm:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("target", sorted(PROMISES))
def test_every_target_probes_as_promised(media, tmp_path, workdir, target):
    result, io = run(media["clip"], tmp_path, target=target)

    kept, content_type = io.artifacts[f"clip.{target}"]
    out = probe(kept)
    container, video_codec, audio_codec = PROMISES[target]
    assert out.demuxer == container
    if video_codec:
        assert out.first("video").codec_name == video_codec
    if audio_codec:
        assert out.first("audio").codec_name == audio_codec
    assert out.duration == pytest.approx(2.0, abs=0.1)
    assert result["duration"] == pytest.approx(out.duration, abs=0.01)
    assert result["content_type"] == content_type
    assert result["size"] == kept.stat().st_size
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize("target", ["mp4", "webm", "gif", "ogg", "m4a", "wav"])
def test_trims_produce_the_asked_duration(media, tmp_path, workdir, target):
    result, io = run(media["clip"], tmp_path, target=target, start=0.5, end="00:00:01.7")

    assert probe(io.artifacts[f"clip.{target}"][0]).duration == pytest.approx(1.2, abs=0.1)
    assert result["duration"] == pytest.approx(1.2, abs=0.1)


def test_gif_animates(media, tmp_path, workdir):
    run(media["clip"], tmp_path, target="gif", fps=5)

    with Image.open(tmp_path / "clip.gif") as gif:
        assert gif.n_frames == pytest.approx(10, abs=1)


@pytest.mark.parametrize("target, pil_format", [("jpg", "JPEG"), ("png", "PNG")])
def test_thumbnails_decode_as_images(media, tmp_path, workdir, target, pil_format):
    result, io = run(media["clip"], tmp_path, target=target, at=1.5, width=160)

    path, content_type = io.artifacts[f"clip.{target}"]
    with Image.open(path) as image:
        image.load()
        assert (image.format, image.size) == (pil_format, (160, 120))
    assert content_type == f"image/{pil_format.lower()}"
    assert result["video"]["width"] == 160


def test_resize_and_audio_shape_reach_the_output(media, tmp_path, workdir):
    result, _ = run(media["clip"], tmp_path, target="mp4", height=120, sample_rate=22050,
                    channels=2)

    assert (result["video"]["width"], result["video"]["height"]) == (160, 120)
    assert (result["audio"]["sample_rate"], result["audio"]["channels"]) == (22050, 2)


def test_h264_aac_mkv_to_mp4_is_remuxed_with_codecs_unchanged(media, tmp_path, workdir):
    result, io = run(media["h264"], tmp_path, target="mp4")

    assert result["remuxed"] is True
    assert result["copied_streams"] == ["video", "audio"]
    assert (result["video"]["codec"], result["audio"]["codec"]) == ("h264", "aac")
    assert any("stream copy" in line for line in io.logs)


def test_mpeg4_mkv_to_mp4_is_transcoded(media, tmp_path, workdir):
    result, _ = run(media["mpeg4"], tmp_path, target="mp4")

    assert result["remuxed"] is False
    assert result["video"]["codec"] == "h264"


def test_progress_counts_media_seconds_up_to_the_total(media, tmp_path, workdir):
    _, io = run(media["clip"], tmp_path, target="webm")

    done = [current for current, _, _ in io.progress_events]
    assert done == sorted(done)
    current, total, unit = io.progress_events[-1]
    assert (current, unit) == (total, "seconds")
    assert total == pytest.approx(2.0, abs=0.1)


def test_cancel_kills_ffmpeg_and_leaves_no_output(media, tmp_path, workdir):
    io = FakeJobIO(input_file=media["long"], workdir=tmp_path, cancel_after_events=1)
    job = {"id": "job-1", "params": {"target": "mp4", "width": 1280},
           "input": {"filename": "long.avi"}}

    with pytest.raises(JobCancelled):
        process(job, io)

    [(done, total, _)] = io.progress_events
    assert done < total  # cancelled mid-transcode, not after ffmpeg had finished
    assert ffmpeg_children() == []
    assert list(workdir.iterdir()) == []
    assert not list(tmp_path.glob("long.*"))


def test_conversion_past_its_time_limit_is_killed(media, tmp_path, workdir, monkeypatch):
    monkeypatch.setenv("CONVEYOR_CONVERT_TIMEOUT_BASE", "0.3")
    monkeypatch.setenv("CONVEYOR_CONVERT_TIMEOUT_FACTOR", "0")

    with pytest.raises(PermanentError, match="longer than its limit"):
        run(media["long"], tmp_path, target="webm", width=1280)

    assert ffmpeg_children() == []
    assert list(workdir.iterdir()) == []


def test_output_over_the_size_cap_is_stopped(media, tmp_path, workdir, monkeypatch):
    monkeypatch.setenv("CONVEYOR_CONVERT_MAX_OUTPUT_BYTES", "50000")

    with pytest.raises(PermanentError, match="larger than 50000 bytes"):
        run(media["long"], tmp_path, target="wav")

    assert ffmpeg_children() == []


def test_undecodable_input_fails_the_job_permanently(tmp_path, workdir):
    noise = tmp_path / "song.mp3"
    noise.write_bytes(os.urandom(32 * 1024))

    with pytest.raises(PermanentError, match="decoded"):
        run(noise, tmp_path, target="wav")


def test_bad_params_fail_the_job_permanently(media, tmp_path, workdir):
    with pytest.raises(PermanentError, match="supported targets"):
        run(media["clip"], tmp_path, target="divx")


@pytest.mark.parametrize("filename, expected", [
    ("My clip (1).MOV", "My_clip_1.mp4"), ("../../etc/passwd", "passwd.mp4"),
    (None, "output.mp4"), ("...", "output.mp4"), ("été.webm", "t.mp4"),
])
def test_artifact_names_are_safe_and_follow_the_upload(filename, expected):
    assert artifact_name(filename, "mp4") == expected


def test_reported_progress_never_steps_back_when_ffmpeg_out_time_does(tmp_path):
    # ffmpeg's out_time can step back between reports (muxer interleaving) or read N/A under load;
    # a stand-in process prints such a sequence in ffmpeg's -progress format.
    reports = ["410000", "990000", "760000", "N/A", "2040000"]
    script = "".join(f"print('out_time_us={value}'); print('progress=continue'); " for value in reports)
    seen: list[float] = []

    run_ffmpeg([sys.executable, "-c", script], output=tmp_path / "out.webm", timeout=30,
               max_output_bytes=1 << 20, on_progress=seen.append, on_idle=lambda: None,
               stderr_path=tmp_path / "stderr.txt")

    assert seen == [0.41, 0.99, 0.99, 0.99, 2.04]
