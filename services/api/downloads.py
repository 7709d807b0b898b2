"""Sending a stored file to a client, whole or by HTTP Range, from whichever storage backend is configured.

Every route that hands out an input or an artifact (native, compat surfaces, the internal worker API)
goes through :func:`send_stored`, so seeking works the same everywhere: a media player asks for
``Range: bytes=N-`` and gets 206 with only those bytes, read from the store by a ranged read (a
local seek or an S3 ranged GET), never by reading through the file from its start.

Every answer carries validators of the stored object, a strong ``ETag`` (S3's own, or inode, size and
modification time of the local file) and ``Last-Modified``, and the conditional requests that use
them are honoured (RFC 9110 section 13): ``If-None-Match`` / ``If-Modified-Since`` answer 304 without
a body, ``If-Match`` / ``If-Unmodified-Since`` answer 412 when the file changed, and ``If-Range``
lets a player resume with Range only while the file is the one it started with (else 200, whole).
"""
from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Optional
from urllib.parse import quote

from flask import Response, request, stream_with_context
from werkzeug.http import parse_date, quote_etag

from services.api import jobs
from shared.errors import fail
from shared.storage import StoredObject

_VALIDATORS = {"ETag": {"description": "strong validator of the stored file", "schema": {"type": "string"}},
               "Last-Modified": {"description": "when the stored file was written", "schema": {"type": "string"}}}
# The OpenAPI answers of every route that sends a stored file (besides its 200).
DOWNLOAD_RESPONSES = {
    "206": {"description": "The one range asked for by Range (ignored when If-Range names another version)",
            "headers": {**_VALIDATORS, "Content-Range": {"schema": {"type": "string"}}},
            "content": {"application/octet-stream": {}}},
    "304": {"description": "Not modified: If-None-Match (or If-Modified-Since) matches the stored file",
            "headers": _VALIDATORS},
    "412": {"description": "If-Match or If-Unmodified-Since names another version of the file"},
    "416": {"description": "The range lies outside the file (Content-Range: bytes */size)"},
}


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


def _seconds(moment: datetime) -> datetime:
    """An instant as HTTP dates carry it (whole seconds)."""
    return moment.replace(microsecond=0)


def _if_range_holds(stored: StoredObject) -> bool:
    """Whether a Range may be served: no If-Range, or one naming the current file (RFC 9110 13.1.5).

    The comparison is strong: a weak ETag never matches, and a date only when it equals Last-Modified.
    """
    value = request.headers.get("If-Range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith(("\"", "W/")):
        return value == quote_etag(stored.etag)
    date = parse_date(value)
    return date is not None and date == _seconds(stored.modified)


def _not_modified(stored: StoredObject) -> bool:
    """True when the client's copy is current (If-None-Match, else If-Modified-Since): answer 304.

    Also answers 412 when If-Match or If-Unmodified-Since says the client expected another file.
    """
    if request.if_match and not request.if_match.contains(stored.etag):
        fail(412, "The stored file is not the one If-Match names.")
    if (not request.if_match and request.if_unmodified_since is not None
            and _seconds(stored.modified) > request.if_unmodified_since):
        fail(412, "The stored file changed after If-Unmodified-Since.")
    if request.method not in ("GET", "HEAD"):
        return False
    if request.if_none_match:
        return request.if_none_match.contains_weak(stored.etag)
    since = request.if_modified_since
    return since is not None and _seconds(stored.modified) <= since


def _requested_span(stored: StoredObject) -> Optional[tuple[int, int]]:
    """(start, stop) of a single satisfiable Range; None for a whole-file answer; 416 when unsatisfiable.

    A malformed header or several ranges get the whole file (RFC 9110 lets a server ignore Range),
    as does a Range whose If-Range names an older version of the file.
    """
    size = stored.size
    wanted = request.range
    if wanted is None or wanted.units != "bytes" or len(wanted.ranges) != 1 or not _if_range_holds(stored):
        return None
    span = wanted.range_for_length(size)
    if span is None:
        fail(416, "The requested range lies outside the file.",
             headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    return span


def send_stored(key: str, content_type: Optional[str], download_name: Optional[str] = None,
                as_attachment: bool = False) -> Response:
    """The stored file ``key`` as a streamed response: 200 whole, 206 for one Range, 416 outside it,
    304 when the client's copy is current (412 when a precondition names another version)."""
    store = jobs.storage()
    try:
        stored = store.stat(key)
    except FileNotFoundError:
        fail(404, "The stored file is missing.")
    if _not_modified(stored):
        response = Response(status=304)
        _validators(response, stored)
        return response
    size = stored.size
    span = _requested_span(stored)
    start, stop = span if span is not None else (0, size)
    body = stream_with_context(store.iter_bytes(key, start, stop))
    response = Response(body, status=206 if span is not None else 200,
                        mimetype=content_type or "application/octet-stream", direct_passthrough=True)
    response.content_length = stop - start
    response.headers["Accept-Ranges"] = "bytes"
    _validators(response, stored)
    if span is not None:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    _disposition(response, download_name, as_attachment)
    return response


def _validators(response: Response, stored: StoredObject) -> None:
    """ETag and Last-Modified; ``private, no-cache``: a browser may keep the file but must revalidate
    (a 304 costs no bytes) and shared caches must not keep another user's file."""
    response.set_etag(stored.etag)
    response.last_modified = stored.modified
    response.headers["Cache-Control"] = "private, no-cache"
