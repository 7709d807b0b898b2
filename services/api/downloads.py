"""Sending a stored file to a client, whole or by HTTP Range, from whichever storage backend is configured.

Every route that hands out an input or an artifact (native, compat surfaces, the internal worker API)
goes through :func:`send_stored`, so seeking works the same everywhere: a media player asks for
``Range: bytes=N-`` and gets 206 with only those bytes, read from the store by a ranged read (a
local seek or an S3 ranged GET), never by reading through the file from its start.
"""
from __future__ import annotations

import unicodedata
from typing import Optional
from urllib.parse import quote

from flask import Response, request, stream_with_context

from services.api import jobs
from shared.errors import fail


def _disposition(response: Response, download_name: Optional[str], as_attachment: bool) -> None:
    """Content-Disposition as Flask's send_file writes it (an ASCII name plus RFC 5987 for others)."""
    if download_name is None:
        return
    try:
        download_name.encode("ascii")
        names = {"filename": download_name}
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", download_name).encode("ascii", "ignore").decode("ascii")
        names = {"filename": simple, "filename*": "UTF-8''" + quote(download_name, safe="!#$&+-.^_`|~")}
    response.headers.set("Content-Disposition", "attachment" if as_attachment else "inline", **names)


def _requested_span(size: int) -> Optional[tuple[int, int]]:
    """(start, stop) of a single satisfiable Range; None for a whole-file answer; 416 when unsatisfiable.

    A malformed header or several ranges get the whole file (RFC 9110 lets a server ignore Range).
    """
    wanted = request.range
    if wanted is None or wanted.units != "bytes" or len(wanted.ranges) != 1:
        return None
    span = wanted.range_for_length(size)
    if span is None:
        fail(416, "The requested range lies outside the file.",
             headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    return span


def send_stored(key: str, content_type: Optional[str], download_name: Optional[str] = None,
                as_attachment: bool = False) -> Response:
    """The stored file ``key`` as a streamed response: 200 whole, 206 for one Range, 416 outside it."""
    store = jobs.storage()
    try:
        size = store.size(key)
    except FileNotFoundError:
        fail(404, "The stored file is missing.")
    span = _requested_span(size)
    start, stop = span if span is not None else (0, size)
    body = stream_with_context(store.iter_bytes(key, start, stop))
    response = Response(body, status=206 if span is not None else 200,
                        mimetype=content_type or "application/octet-stream", direct_passthrough=True)
    response.content_length = stop - start
    response.headers["Accept-Ranges"] = "bytes"
    if span is not None:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    _disposition(response, download_name, as_attachment)
    return response
