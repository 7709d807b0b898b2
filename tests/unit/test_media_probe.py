"""shared.media_probe on real media rendered by ffmpeg, and on files that only pose as media."""
from __future__ import annotations

import errno
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from shared.media_probe import ALLOWED_DEMUXERS, MediaInfo, ProbeError, ffmpeg_exe, input_args, probe

TESTSRC = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"]
TONE = ["-f", "lavfi", "-i", "sine=frequency=440"]


def make_media(path: Path, *args: str) -> Path:
    """Render a file with ffmpeg (its lavfi test sources in ``args``) and return its path."""
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args,
                    str(path)], check=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_media(tmp_path_factory.mktemp("probe") / "clip.mkv", *TESTSRC, *TONE, "-t", "2",
                      "-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac")


def test_probe_reports_container_duration_and_streams(clip):
    info = probe(clip)

    assert info.demuxer == "matroska"
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.size == clip.stat().st_size
    video, audio = info.first("video"), info.first("audio")
    assert (video.codec_name, video.width, video.height, video.fps) == ("h264", 320, 240, 25.0)
    assert (audio.codec_name, audio.sample_rate, audio.channels) == ("aac", 44100, 1)
    assert [s.index for s in info.streams] == [0, 1]


def test_a_header_only_probe_of_a_trusted_file_describes_it_as_the_full_probe_does(clip, tmp_path):
    assert probe(clip, decode_check=False) == probe(clip)
    mp4 = make_media(tmp_path / "made.mp4", *TESTSRC, *TONE, "-t", "1.5", "-pix_fmt", "yuv420p",
                     "-c:v", "libx264", "-c:a", "aac")
    assert probe(mp4, decode_check=False) == probe(mp4)
    # It still refuses what is not media.
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(ProbeError):
        probe(junk, decode_check=False)


def test_probe_counts_channels_of_a_surround_layout(tmp_path):
    wav = make_media(tmp_path / "surround.wav", *TONE, "-t", "0.5", "-ac", "6")

    audio = probe(wav).first("audio")

    assert (audio.codec_name, audio.channels) == ("pcm_s16le", 6)
    assert audio.bit_rate == pytest.approx(44100 * 16 * 6, rel=0.01)  # ffmpeg prints whole kb/s


def test_cover_art_does_not_count_as_video(tmp_path):
    cover = make_media(tmp_path / "cover.png", *TESTSRC, "-frames:v", "1")
    song = make_media(tmp_path / "song.mp3", *TONE, "-i", str(cover), "-t", "1", "-map", "0",
                      "-map", "1", "-c:v", "png", "-disposition:v", "attached_pic")

    info = probe(song)

    assert any(s.codec_type == "video" and s.attached_pic for s in info.streams)
    assert info.first("video") is None
    assert info.first("audio").codec_name == "mp3"


def test_duration_missing_from_the_header_is_measured(tmp_path):
    # A live-streamed Matroska file (as browsers record) carries no duration in its header.
    live = tmp_path / "live.mkv"
    with open(live, "wb") as out:
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *TESTSRC, "-t", "2",
                        "-c:v", "libx264", "-live", "1", "-f", "matroska", "pipe:1"],
                       stdout=out, check=True, timeout=60)

    assert probe(live).duration == pytest.approx(2.0, abs=0.1)


def test_random_bytes_named_mp3_are_refused(tmp_path):
    noise = tmp_path / "song.mp3"
    noise.write_bytes(os.urandom(64 * 1024))

    with pytest.raises(ProbeError, match="cannot be decoded|can be decoded"):
        probe(noise)


def test_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()

    with pytest.raises(ProbeError, match="empty"):
        probe(empty)


def test_probe_error_is_a_value_error_so_callers_answer_400(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("just some words, not audio\n" * 50)

    with pytest.raises(ValueError):
        probe(text)


class _FifoWatch:
    """A named pipe that notices if anything opens it for reading."""

    def __init__(self, path: Path):
        self.path = path
        os.mkfifo(path)
        self.opened = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader, which is what we hope for
                    raise
                continue
            self.opened = True
            os.close(fd)

    def stop(self) -> bool:
        self._stop.set()
        self._thread.join()
        return self.opened


@pytest.mark.parametrize("name", ["video.mp4", "video.m3u8"])
def test_playlist_naming_a_local_file_is_refused_without_reading_it(tmp_path, name):
    watch = _FifoWatch(tmp_path / "segment.ts")
    playlist = tmp_path / name
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
                        f"{watch.path}\n#EXT-X-ENDLIST\n")

    with pytest.raises(ProbeError):
        probe(playlist, timeout=10)

    assert watch.stop() is False


@pytest.mark.parametrize("name", ["video.mp4", "video.m3u8"])
def test_playlist_naming_a_loopback_url_is_refused_without_connecting(tmp_path, name):
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        playlist = tmp_path / name
        playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
                            f"http://127.0.0.1:{port}/segment.ts\n#EXT-X-ENDLIST\n")

        with pytest.raises(ProbeError):
            probe(playlist, timeout=10)

        with pytest.raises(BlockingIOError):
            server.accept()


def test_concat_script_disguised_as_mp4_is_refused(tmp_path, clip):
    script = tmp_path / "movie.mp4"
    script.write_text(f"ffconcat version 1.0\nfile {clip}\n")

    # ffmpeg 7 names the refused demuxer; ffmpeg 9 (imageio-ffmpeg 0.8) only fails to open the input.
    with pytest.raises(ProbeError, match="not an accepted media container|not a media file that can be decoded"):
        probe(script)


def test_input_args_pin_the_probed_demuxer_and_local_protocols(clip):
    args = input_args(clip, probe(clip))

    assert args[args.index("-f") + 1] == "matroska"
    assert args[args.index("-protocol_whitelist") + 1] == "file,pipe"
    assert "hls" not in args[args.index("-format_whitelist") + 1].split(",")
    assert args[-1] == f"file:{clip.resolve()}"


def test_configured_ffmpeg_overrides_the_bundled_one(monkeypatch):
    monkeypatch.setenv("CONVEYOR_FFMPEG", "/opt/ffmpeg/bin/ffmpeg")

    assert ffmpeg_exe() == "/opt/ffmpeg/bin/ffmpeg"


def test_media_info_demuxer_is_the_first_alias():
    info = MediaInfo("mov,mp4,m4a,3gp,3g2,mj2", 1.0, 10, [])

    assert info.demuxer == "mov"


def test_a_given_ffmpeg_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("CONVEYOR_FFMPEG", "/opt/ffmpeg/bin/ffmpeg")

    assert ffmpeg_exe("/usr/local/bin/ffmpeg") == "/usr/local/bin/ffmpeg"


@pytest.mark.parametrize("name, pil_format, demuxer, codec", [
    ("photo.png", "PNG", "png_pipe", "png"), ("photo.jpg", "JPEG", "jpeg_pipe", "mjpeg"),
    ("photo.webp", "WEBP", "webp_pipe", "webp"), ("photo.bmp", "BMP", "bmp_pipe", "bmp"),
])
def test_still_images_probe_as_one_picture_without_duration(tmp_path, name, pil_format, demuxer,
                                                             codec):
    from PIL import Image

    Image.new("RGB", (64, 48), (10, 200, 30)).save(tmp_path / name, pil_format)

    info = probe(tmp_path / name)

    assert (info.demuxer, info.duration, info.still_image) == (demuxer, 0.0, True)
    assert (info.first("video").codec_name, info.first("video").width) == (codec, 64)


def test_a_jpeg_that_ffmpeg_would_read_as_an_image_sequence_is_still_probed(tmp_path):
    # ffmpeg's own JPEGs score lower as jpeg_pipe than image2 does from the name; the probe
    # names the demuxer from the signature instead of letting ffmpeg refuse image2.
    path = make_media(tmp_path / "frame.jpg", *TESTSRC, "-frames:v", "1")

    info = probe(path)

    assert (info.demuxer, info.first("video").codec_name) == ("jpeg_pipe", "mjpeg")
    assert input_args(path, info)[-4:-2] == ["-f", "jpeg_pipe"]


def test_image_sequences_stay_refused(tmp_path):
    assert "image2" not in ALLOWED_DEMUXERS and "image2pipe" not in ALLOWED_DEMUXERS
    make_media(tmp_path / "frame1.png", *TESTSRC, "-frames:v", "1")

    # A pattern that only image2 would expand into files: the name itself does not exist.
    with pytest.raises(ProbeError):
        probe(tmp_path / "frame%d.png")


def test_bytes_that_only_start_like_an_image_are_refused(tmp_path):
    path = tmp_path / "fake.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(4096))

    with pytest.raises(ProbeError, match="not a media file that can be decoded"):
        probe(path)
