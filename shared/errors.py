"""The one JSON error envelope of Conveyor: ``{"code", "status", "message", "errors"?}``.

It is flask-smorest's own envelope, so validation errors from the schemas and
every other error leave in the same shape. Internals (exception text, SQL,
paths) never reach a client.
"""
from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Optional

from flask import Flask, jsonify
from flask_smorest import abort
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

LOGGER = logging.getLogger(__name__)

# Page numbers stop here: the offset of a page far beyond would overflow PostgreSQL's bigint.
MAX_PAGE = 1_000_000


def error_body(code: int, message: Optional[str] = None, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "status": HTTPStatus(code).phrase,
                            "message": message or HTTPStatus(code).description}
    if errors:
        body["errors"] = errors
    return body


def error_response(code: int, message: Optional[str] = None, errors: Any = None, headers=None):
    response = jsonify(error_body(code, message, errors))
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def fail(code: int, message: str, **kwargs: Any):
    """Abort the request with the envelope (a thin name over flask_smorest.abort)."""
    abort(code, message=message, **kwargs)


def register_error_handlers(app: Flask) -> None:
    """Route HTTP, database and unexpected errors through the envelope."""

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        message = data.get("message") or exc.description
        return error_response(exc.code or 500, message, data.get("errors"),
                              headers=dict(data.get("headers") or {}))

    @app.errorhandler(DataError)
    def handle_out_of_range(exc: DataError):
        # A value the database cannot hold reached it: the request was bad, not the server.
        LOGGER.warning("database refused a value: %s", exc.orig.__class__.__name__ if exc.orig else exc)
        return error_response(400, "A value in the request is out of range.")

    @app.errorhandler(OperationalError)
    def handle_database_down(exc: OperationalError):
        LOGGER.error("database unavailable: %s", exc.__class__.__name__)
        return error_response(503, "The database is unavailable; try again shortly.",
                              headers={"Retry-After": "5"})

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        LOGGER.exception("unhandled error")
        return error_response(500, "Internal error; it has been logged.")
