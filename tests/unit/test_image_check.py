"""Submit-time image checks: real images pass with their true size; junk and bombs are refused."""
from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import pytest

from shared.image_check import DEFAULT_MAX_PIXELS, ImageRejected, ImageTooLarge, NotAnImage, check_image, sniff_format

Image = pytest.importorskip("PIL.Image")


def _encoded(fmt: str, size=(123, 45), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 30, 60) if mode == "RGB" else 1).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_bomb(width: int, height: int) -> bytes:
    """A real 1-bit PNG of all-zero rows: a few hundred KB on disk, width*height pixels decoded."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _png_bomb(40_000, 40_000)


@pytest.mark.parametrize("fmt,expected", [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp"),
                                          ("BMP", "bmp")])
def test_real_images_report_format_and_size(fmt, expected):
    info = check_image(_encoded(fmt))
    assert (info.format, info.width, info.height) == (expected, 123, 45)


def test_lossless_webp_and_progressive_jpeg_are_sized(tmp_path):
    lossless = io.BytesIO()
    Image.new("RGBA", (77, 19)).save(lossless, format="WEBP", lossless=True)
    progressive = tmp_path / "p.jpg"
    Image.new("RGB", (640, 481)).save(progressive, format="JPEG", progressive=True)
    lossless_info = check_image(lossless.getvalue())
    assert (lossless_info.format, lossless_info.width, lossless_info.height) == ("webp", 77, 19)
    assert (check_image(progressive).width, check_image(progressive).height) == (640, 481)


def test_jpeg_with_large_exif_before_the_frame_header_is_sized():
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buffer, format="JPEG", exif=b"Exif\x00\x00" + b"\x00" * 60000)
    assert check_image(buffer.getvalue()).width == 300


def test_type_comes_from_bytes_not_from_the_name(tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is a plain text file, not a picture\n")
    with pytest.raises(NotAnImage, match="Not an image"):
        check_image(fake)
    png_named_jpg = tmp_path / "really_png.jpg"
    png_named_jpg.write_bytes(_encoded("PNG"))
    assert check_image(png_named_jpg).format == "png"


def test_corrupt_bytes_are_refused_with_400():
    truncated_png = _encoded("PNG")[:20]
    for junk in (b"\x00\x01\x02garbage" * 10, truncated_png, b"\xff\xd8\xff\xe0\x00"):
        with pytest.raises(NotAnImage) as caught:
            check_image(junk)
        assert caught.value.http_status == 400


def test_png_with_broken_ihdr_checksum_is_refused():
    data = bytearray(_encoded("PNG"))
    data[20] ^= 0xFF  # inside IHDR's width
    with pytest.raises(NotAnImage, match="checksum"):
        check_image(bytes(data))


def test_file_over_the_byte_limit_is_refused_with_413():
    with pytest.raises(ImageTooLarge, match="too large") as caught:
        check_image(_encoded("BMP"), max_bytes=1000)
    assert caught.value.http_status == 413


def test_pixel_limit_is_configurable():
    data = _encoded("PNG", size=(100, 100))
    assert check_image(data, max_pixels=10_000).pixels == 10_000
    with pytest.raises(ImageTooLarge, match="too many pixels"):
        check_image(data, max_pixels=9_999)


def test_png_bomb_is_refused_from_its_header_with_little_memory(bomb, tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    assert len(bomb) < 2_000_000  # tiny on disk: 1.6 gigapixels inside
    tracemalloc.start()
    try:
        for source in (bomb, path):
            with pytest.raises(ImageTooLarge) as caught:
                check_image(source, max_pixels=DEFAULT_MAX_PIXELS)
            assert "40000x40000" in str(caught.value)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Decoding even one byte per pixel would need 1.6 GB; the header parse stays under 100 KB.
    assert peak < 100_000


def test_rejections_are_value_errors_for_callers_that_catch_broadly():
    assert issubclass(ImageRejected, ValueError)
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
