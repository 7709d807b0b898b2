"""What the auth and API app factories have in common: settings, database, errors, docs, health."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
from typing import BinaryIO, Callable, Optional

import swagger_ui_bundle
from flask import Blueprint, Flask, Response, jsonify, request, send_from_directory
from flask_smorest import Api
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.config import Config
from shared.db import db
from shared.errors import fail, register_error_handlers
from shared.logging_setup import configure_logging, set_job_context

LOGGER = logging.getLogger(__name__)

ReadinessCheck = Callable[[], None]

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

# Browser protections on every answer (the gateway adds the same to the answers nginx makes itself).
# The CSP is for JSON and files; an HTML page's inline scripts and styles are allowed by their hashes.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
_INLINE = {"script": re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE),
           "style": re.compile(rb"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)}


def configure_service(app: Flask, config: Config, title: str, docs_prefix: str) -> Api:
    """Load settings, refuse insecure production settings, attach the database, errors and OpenAPI."""
    config.check_production()
    configure_logging()
    app.config.from_object(config)
    app.config.update(
        API_TITLE=title,
        API_VERSION="1.0.0",
        OPENAPI_URL_PREFIX=docs_prefix,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Served from the swagger-ui-bundle package: the docs page works on an air-gapped machine.
        OPENAPI_SWAGGER_UI_URL=docs_prefix.rstrip("/") + "/docs/assets/",
        # No badge from validator.swagger.io: the CSP allows no other origin, and nothing leaves the machine.
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        API_SPEC_OPTIONS={"components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
            "security": [{"bearerAuth": []}, {"apiKey": []}]},
    )
    # The gateway in front sets X-Forwarded-For; rate limits and logs need the client's address.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    db.init_app(app)
    register_error_handlers(app)
    app.before_request(_tag_job_requests)
    app.before_request(_refuse_oversized_json)
    app.after_request(_add_security_headers)
    assets = Blueprint("docs_assets", __name__, url_prefix=docs_prefix.rstrip("/") + "/docs/assets")
    assets.add_url_rule("/<path:filename>", "asset",
                        lambda filename: send_from_directory(swagger_ui_bundle.swagger_ui_path, filename))
    app.register_blueprint(assets)
    return Api(app)


def _tag_job_requests() -> None:
    """Log lines of a request about a job carry its id (threads serve many requests: always reset)."""
    set_job_context((request.view_args or {}).get("job_id"))


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


def _refuse_oversized_json() -> None:
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


def inline_hashes(html: bytes, tag: str) -> list[str]:
    """CSP hash sources ('sha256-...') of the inline ``<script>`` or ``<style>`` blocks of a page."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
            for body in _INLINE[tag].findall(html)]


def _add_security_headers(response: Response) -> Response:
    """nosniff, no framing, no referrer, a CSP (exact hashes for an HTML page's inline code), HSTS on TLS."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    policy = CONTENT_SECURITY_POLICY
    if response.mimetype == "text/html" and not (response.direct_passthrough or response.is_streamed):
        html = response.get_data()
        for tag in ("script", "style"):
            hashes = inline_hashes(html, tag)
            if hashes:
                policy += f"; {tag}-src 'self' {' '.join(hashes)}"
    response.headers.setdefault("Content-Security-Policy", policy)
    # request.is_secure follows X-Forwarded-Proto from the gateway (ProxyFix).
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def health_blueprint(checks: dict[str, ReadinessCheck], prefix: str = "") -> Blueprint:
    """``/healthz`` (the process answers) and ``/readyz`` (its dependencies answer)."""
    bp = Blueprint("health", __name__, url_prefix=prefix)

    @bp.route("/healthz")
    def healthz():
        return jsonify(status="ok")

    @bp.route("/readyz")
    def readyz():
        results, ready = {}, True
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure of a dependency means "not ready"
                LOGGER.warning("readiness check %s failed: %s", name, exc.__class__.__name__)
                results[name] = "unavailable"
                ready = False
        return jsonify(status="ok" if ready else "unavailable", checks=results), 200 if ready else 503

    return bp


def check_database() -> None:
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
