"""Image to image through process(): real pictures in, outputs probed by ffmpeg (codec, size)."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from services.convert_worker.convert import process
from shared.handler import PermanentError
from shared.media_probe import probe
from tests.fakes import FakeJobIO


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    """A gradient in each input format, so a lossy encoder has detail to spend bits on."""
    folder = tmp_path_factory.mktemp("pictures")
    gradient = Image.linear_gradient("L").resize((400, 300)).convert("RGB")
    made = {}
    for name, pil_format in (("photo.png", "PNG"), ("photo.jpg", "JPEG"), ("photo.webp", "WEBP"),
                             ("photo.bmp", "BMP"), ("photo.gif", "GIF")):
        gradient.save(folder / name, pil_format)
        made[name] = folder / name
    return made


def run(source: Path, tmp_path: Path, **params):
    tmp_path.mkdir(exist_ok=True)
    io = FakeJobIO(input_file=source, workdir=tmp_path)
    job = {"id": "job-1", "kind": "convert", "number": 1, "params": params,
           "input": {"filename": source.name, "content_type": "image/png", "size": 1},
           "attempt": 1}
    return process(job, io), io


def test_png_becomes_jpeg(pictures, tmp_path):
    result, io = run(pictures["photo.png"], tmp_path, target="jpeg")

    path, content_type = io.artifacts["photo.jpg"]
    out = probe(path)
    assert (out.demuxer, out.first("video").codec_name) == ("jpeg_pipe", "mjpeg")
    assert (out.first("video").width, out.first("video").height) == (400, 300)
    assert content_type == "image/jpeg"
    assert result["video"] == {"codec": "jpeg", "width": 400, "height": 300, "fps": None}


def test_jpeg_becomes_png(pictures, tmp_path):
    _, io = run(pictures["photo.jpg"], tmp_path, target="png")

    out = probe(io.artifacts["photo.png"][0])
    assert (out.demuxer, out.first("video").codec_name) == ("png_pipe", "png")
    assert (out.first("video").width, out.first("video").height) == (400, 300)


def test_png_becomes_a_resized_webp_whose_quality_shows_in_its_size(pictures, tmp_path):
    low, low_io = run(pictures["photo.png"], tmp_path / "low", target="webp", width=200, quality=5)
    high, high_io = run(pictures["photo.png"], tmp_path / "high", target="webp", width=200,
                        quality=95)

    out = probe(high_io.artifacts["photo.webp"][0])
    assert (out.demuxer, out.first("video").codec_name) == ("webp_pipe", "webp")
    # The width asked for, the height following the 4:3 aspect.
    assert (out.first("video").width, out.first("video").height) == (200, 150)
    assert high_io.artifacts["photo.webp"][1] == "image/webp"
    assert low["size"] < high["size"]


def test_jpeg_quality_changes_the_file(pictures, tmp_path):
    low, _ = run(pictures["photo.png"], tmp_path / "low", target="jpg", quality=1)
    high, _ = run(pictures["photo.png"], tmp_path / "high", target="jpg", quality=100)

    assert low["size"] < high["size"]


def test_both_sides_given_fit_the_image_inside_them(pictures, tmp_path):
    _, io = run(pictures["photo.bmp"], tmp_path, target="png", width=100, height=100)

    video = probe(io.artifacts["photo.png"][0]).first("video")
    assert (video.width, video.height) == (100, 75)


@pytest.mark.parametrize("name", ["photo.webp", "photo.bmp", "photo.gif"])
def test_other_image_formats_convert(pictures, tmp_path, name):
    _, io = run(pictures[name], tmp_path, target="jpg", height=60)

    video = probe(io.artifacts["photo.jpg"][0]).first("video")
    assert (video.codec_name, video.width, video.height) == ("mjpeg", 80, 60)


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (64, 48), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=500)

    _, io = run(tmp_path / "anim.gif", tmp_path, target="png")

    with Image.open(io.artifacts["anim.png"][0]) as image:
        red, _, blue = image.convert("RGB").getpixel((32, 24))
    assert red > 200 and blue < 50


def test_image_to_a_video_target_fails_saying_what_it_accepts(pictures, tmp_path):
    with pytest.raises(PermanentError) as err:
        run(pictures["photo.png"], tmp_path, target="mp4")

    message = str(err.value)
    assert "still image (png)" in message
    assert "made from a video" in message
    assert "an image can become jpg, png, webp" in message
