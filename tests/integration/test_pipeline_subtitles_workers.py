"""The subtitles preset to the end with real workers: English speech (espeak-ng) in a test-pattern video,
Whisper, Apertium and ffmpeg; the translations come back inside the video, as streams or burned in.

The muxed file is probed with the project's own prober and its streams read back by ffmpeg; the
burned-in text is read by the vision worker's own OCR (PP-OCRv4) on a frame taken during a cue.
"""
from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import webvtt
from PIL import Image

from services.vision_worker.ocr import load as load_ocr
from shared.kinds.convert.subtitles import parse_cues
from shared.media_probe import ffmpeg_exe, probe
from tests.integration.test_pipelines_workers import (  # noqa: F401 - fixtures
    SPOKEN,
    asr_offered,
    asr_worker,
    convert_worker,
    finished,
    steps_by_name,
    submit,
)
from tests.media import ffmpeg, speak
from tests.subtitle_checks import vtt_cues

TAGS = {"es": "spa", "ca": "cat"}


@pytest.fixture(scope="module")
def lecture(tmp_path_factory) -> bytes:
    """The English sentences spoken over a 640x360 test pattern: large enough for OCR to read drawn text."""
    folder = tmp_path_factory.mktemp("subtitled-lecture")
    wav = speak(SPOKEN, folder / "lecture.wav")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=640x360:rate=10", "-i", str(wav), "-shortest", "-pix_fmt", "yuv420p",
           str(folder / "lecture.mp4"))
    return (folder / "lecture.mp4").read_bytes()


def video_of(client, user, done, folder: Path) -> Path:
    """The add-subtitles step's artifact, downloaded as a client would."""
    links = steps_by_name(done)["add-subtitles"]["links"]["artifacts"]
    (name, link), = links.items()
    reply = client.get(link, headers=user.headers)
    assert reply.status_code == 200
    path = folder / name
    path.write_bytes(reply.get_data())
    return path


def served_cues(client, user, done, lang):
    reply = client.get(done["subtitles"][lang]["vtt"], headers=user.headers)
    assert reply.status_code == 200, reply.json
    return vtt_cues(webvtt.from_string(reply.get_data(as_text=True)))


def stream_cues(path: Path, number: int) -> list[tuple[float, float, str]]:
    vtt = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", f"0:s:{number}",
                          "-f", "webvtt", "-"], capture_output=True, check=True, timeout=60).stdout.decode("utf-8")
    return [(c.start, c.end, c.text) for c in parse_cues(vtt)]


def test_the_translations_are_muxed_into_the_mp4_one_tagged_stream_per_language_with_the_vtt_timings(
        client, make_user, relay, asr_worker, translate_worker, convert_worker, lecture, tmp_path):  # noqa: F811
    user = make_user()
    view = submit(client, user, lecture, "lecture.mp4", preset="subtitles",
                  options={"target_langs": ["es", "ca"], "mux": "mp4"})
    done = finished(client, user, view["id"])
    assert done["status"] == "succeeded", done
    video = video_of(client, user, done, tmp_path)
    info = probe(video)
    subtitles = [s for s in info.streams if s.codec_type == "subtitle"]
    assert [(s.codec_name, s.language, s.title) for s in subtitles] == [
        ("mov_text", "spa", "Spanish"), ("mov_text", "cat", "Catalan")]
    assert info.first("video").width == 640 and info.first("audio") is not None
    for number, lang in enumerate(("es", "ca")):
        served = served_cues(client, user, done, lang)
        inside = stream_cues(video, number)
        assert len(inside) == len(served) > 0
        for (start, end, text), (want_start, want_end, want_text) in zip(inside, served):
            assert abs(start - want_start) <= 0.01 and abs(end - want_end) <= 0.01, (lang, inside, served)
            assert text.split() == want_text.split()


def plain(text: str) -> str:
    """Upper case without accents: OCR of a Latin font reads 'días' as 'DIAS' as often as not."""
    return "".join(c for c in unicodedata.normalize("NFD", text.upper()) if unicodedata.category(c) != "Mn")


def test_burned_in_spanish_is_read_back_by_ocr_during_its_cue(
        client, make_user, relay, asr_worker, translate_worker, convert_worker, lecture, tmp_path):  # noqa: F811
    user = make_user()
    view = submit(client, user, lecture, "lecture.mp4", preset="subtitles",
                  options={"target_langs": ["es", "ca"], "burn_in": "es", "subtitle_size": 9})
    done = finished(client, user, view["id"])
    assert done["status"] == "succeeded", done
    assert steps_by_name(done)["add-subtitles"]["status"] == "succeeded"
    video = video_of(client, user, done, tmp_path)
    assert not [s for s in probe(video).streams if s.codec_type == "subtitle"]  # drawn in, not muxed
    ocr = load_ocr()
    checked = 0
    for start, end, text in served_cues(client, user, done, "es")[:3]:
        frame = tmp_path / f"frame-{start}.png"
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{(start + end) / 2:.3f}",
                        "-i", str(video), "-frames:v", "1", str(frame)], check=True, timeout=60)
        read = plain(" ".join(found for _, found, _ in ocr.read(np.asarray(Image.open(frame).convert("RGB")))))
        words = [word for word in plain(text).replace(",", " ").replace(".", " ").split() if len(word) >= 4]
        assert words and any(word in read for word in words), (text, read)
        checked += 1
    assert checked
