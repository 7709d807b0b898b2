"""Submit-time image validation that never decodes pixels.

The type is sniffed from the leading bytes (never from the name) and the dimensions are read from
the container header (JPEG SOF segment, PNG IHDR, WebP VP8/VP8L/VP8X chunk, BMP info header), so a
decompression bomb is refused after reading a few kilobytes. Needs nothing beyond the standard
library, so the API can call it without the vision models installed.
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Mapping, Union

from shared.config import Config, settings_of

# Defaults for direct calls; the configured limits are Config.MAX_IMAGE_PIXELS / MAX_IMAGE_BYTES
# (CONVEYOR_MAX_IMAGE_*), which the API at submit and the vision worker before decoding both pass.
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "bmp": "image/bmp"}

# JPEG start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Markers without a length field (TEM, RSTn, SOI/EOI).
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xDA)}
# A header parse reads no more than this before giving up: real headers sit well inside it.
_MAX_HEADER_SCAN = 4 * 1024 * 1024


class ImageRejected(ValueError):
    """An upload that is refused at submit time; ``http_status`` says how the API should answer."""

    http_status = 400


class NotAnImage(ImageRejected):
    """The bytes are not a JPEG, PNG, WebP or BMP image, or its header is corrupt."""


class ImageTooLarge(ImageRejected):
    """The file or its pixel count exceeds the configured limit."""

    http_status = 413


@dataclass(frozen=True)
class ImageInfo:
    """What the header says: container format (jpeg/png/webp/bmp) and dimensions in pixels."""

    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        """Width times height."""
        return self.width * self.height

    @property
    def content_type(self) -> str:
        """The MIME type of the sniffed format."""
        return CONTENT_TYPES[self.format]


def limits_from_config(config: Config | Mapping[str, Any]) -> tuple[int, int]:
    """(max pixels, max bytes) for input images from a Config or a Flask app.config."""
    settings = settings_of(config)
    return int(settings["MAX_IMAGE_PIXELS"]), int(settings["MAX_IMAGE_BYTES"])


Source = Union[str, os.PathLike, bytes, bytearray, memoryview]


def check_image(source: Source, max_pixels: int = DEFAULT_MAX_PIXELS,
                max_bytes: int = DEFAULT_MAX_BYTES) -> ImageInfo:
    """Sniff and size-check an image (path or bytes); raise an ImageRejected subclass if refused."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        size = len(source)
        _check_bytes(size, max_bytes)
        info = read_header(io.BytesIO(bytes(source) if isinstance(source, memoryview) else source))
    else:
        path = Path(source)
        size = path.stat().st_size
        _check_bytes(size, max_bytes)
        with path.open("rb") as stream:
            info = read_header(stream)
    if info.pixels > max_pixels:
        raise ImageTooLarge(
            f"Image has too many pixels: {info.width}x{info.height} = {info.pixels:,} "
            f"(limit {max_pixels:,}).")
    return info


def _check_bytes(size: int, max_bytes: int) -> None:
    if size == 0:
        raise NotAnImage("The file is empty; expected a JPEG, PNG, WebP or BMP image.")
    if size > max_bytes:
        raise ImageTooLarge(f"File is too large: {size:,} bytes (limit {max_bytes:,}).")


def sniff_format(head: bytes) -> str | None:
    """Return jpeg/png/webp/bmp from the first 16 bytes, or None when they match none."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM") and len(head) >= 14:
        return "bmp"
    return None


def read_header(stream: BinaryIO) -> ImageInfo:
    """Read format and dimensions from an image stream positioned at its start."""
    head = stream.read(16)
    fmt = sniff_format(head)
    if fmt is None:
        raise NotAnImage("Not an image: expected JPEG, PNG, WebP or BMP content "
                         "(the type is read from the file's bytes, not its name).")
    stream.seek(0)
    try:
        width, height = _PARSERS[fmt](stream)
    except (struct.error, IndexError) as exc:
        raise NotAnImage(f"Corrupt {fmt.upper()} header: the file ends early.") from exc
    if width <= 0 or height <= 0:
        raise NotAnImage(f"Corrupt {fmt.upper()} header: dimensions {width}x{height}.")
    return ImageInfo(fmt, width, height)


def _read_exact(stream: BinaryIO, count: int) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise NotAnImage("Corrupt image header: the file ends early.")
    return data


def _png_size(stream: BinaryIO) -> tuple[int, int]:
    stream.seek(8)
    length, chunk_type = struct.unpack(">I4s", _read_exact(stream, 8))
    if chunk_type != b"IHDR" or length != 13:
        raise NotAnImage("Corrupt PNG header: the first chunk is not IHDR.")
    body = _read_exact(stream, 13)
    (crc,) = struct.unpack(">I", _read_exact(stream, 4))
    if zlib.crc32(b"IHDR" + body) != crc:
        raise NotAnImage("Corrupt PNG header: IHDR checksum mismatch.")
    width, height = struct.unpack(">II", body[:8])
    return width, height


def _jpeg_size(stream: BinaryIO) -> tuple[int, int]:
    stream.seek(2)
    while stream.tell() < _MAX_HEADER_SCAN:
        byte = _read_exact(stream, 1)
        if byte != b"\xff":
            raise NotAnImage("Corrupt JPEG header: expected a segment marker.")
        marker = _read_exact(stream, 1)[0]
        while marker == 0xFF:  # fill bytes may pad before a marker
            marker = _read_exact(stream, 1)[0]
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):
            break  # end of image or start of scan before any frame header
        (length,) = struct.unpack(">H", _read_exact(stream, 2))
        if length < 2:
            raise NotAnImage("Corrupt JPEG header: bad segment length.")
        if marker in _JPEG_SOF:
            _precision, height, width = struct.unpack(">BHH", _read_exact(stream, 5))
            return width, height
        stream.seek(length - 2, os.SEEK_CUR)
    raise NotAnImage("Corrupt JPEG header: no frame header found.")


def _webp_size(stream: BinaryIO) -> tuple[int, int]:
    stream.seek(12)
    chunk, _size = struct.unpack("<4sI", _read_exact(stream, 8))
    body = _read_exact(stream, 10)
    if chunk == b"VP8 ":
        if body[3:6] != b"\x9d\x01\x2a":
            raise NotAnImage("Corrupt WebP header: bad VP8 start code.")
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if body[0] != 0x2F:
            raise NotAnImage("Corrupt WebP header: bad VP8L signature.")
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return width, height
    raise NotAnImage("Corrupt WebP header: unknown first chunk.")


def _bmp_size(stream: BinaryIO) -> tuple[int, int]:
    stream.seek(14)
    (header_size,) = struct.unpack("<I", _read_exact(stream, 4))
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height = struct.unpack("<HH", _read_exact(stream, 4))
        return width, height
    if header_size < 40:
        raise NotAnImage("Corrupt BMP header: unknown info header size.")
    width, height = struct.unpack("<ii", _read_exact(stream, 8))
    # A negative height marks a top-down bitmap; the size is its magnitude.
    return width, abs(height)


_PARSERS = {"jpeg": _jpeg_size, "png": _png_size, "webp": _webp_size, "bmp": _bmp_size}
