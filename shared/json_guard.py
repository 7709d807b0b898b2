"""JSON bodies bounded in size and nesting before any view of either service parses them."""
from __future__ import annotations

import io
import json
import re
from typing import BinaryIO, Optional

from flask import request

from shared.errors import fail

# JSON bodies are parsed recursively (a 100000-deep array is a RecursionError, i.e. a 500 and a
# traceback); no request of any surface nests deeper than a few levels, nor needs megabytes of JSON
# (the longest texts, MAX_TEXT_CHARS, fit many times over). Workers' results (a long recording's
# timed words) may be larger: the internal API, which only workers reach, keeps MAX_CONTENT_LENGTH.
MAX_JSON_DEPTH = 64
MAX_JSON_BYTES = 8 * 1024 * 1024
UNBOUNDED_JSON_BLUEPRINTS = {"internal"}
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")
_JSON_CONTAINER_START = re.compile(rb"\s*[\[{]")


def json_nesting_exceeds(data: bytes, limit: int) -> bool:
    """Whether arrays and objects in ``data`` nest more than ``limit`` deep (brackets in strings ignored)."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', data)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth = max(depth - 1, 0)
    return False


class _Replayed(io.RawIOBase):
    """A request body whose start was already read: that start again, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _read_up_to(stream: BinaryIO, size: Optional[int]) -> bytes:
    """Up to ``size`` bytes of ``stream`` (all of it when None), however short its reads are."""
    if size is None:
        return stream.read()
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _as_utf8(data: bytes) -> bytes:
    """``data`` as UTF-8 when it is JSON in another encoding json.loads accepts (a BOM, UTF-16, UTF-32)."""
    encoding = json.detect_encoding(data)
    if encoding == "utf-8":
        return data
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError:
        return data


def refuse_oversized_json() -> None:
    """Refuse a JSON body too large (413) or too deeply nested (400) before any view parses it."""
    if "json" not in (request.mimetype or ""):
        return
    bound = None if request.blueprint in UNBOUNDED_JSON_BLUEPRINTS else MAX_JSON_BYTES
    stream = request.stream
    head = _read_up_to(stream, None if bound is None else bound + 1)
    # The view reads the body as if untouched (the primitives face takes a raw image labelled as JSON).
    request.stream = io.BufferedReader(_Replayed(head, stream))
    text = _as_utf8(head)
    if not _JSON_CONTAINER_START.match(text):
        return  # not an array or object: nothing nests, and the parser refuses anything else cheaply
    if bound is not None and len(head) > bound:
        fail(413, f"A JSON body may be at most {bound} bytes.")
    if json_nesting_exceeds(text, MAX_JSON_DEPTH):
        fail(400, f"The JSON body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep.")
