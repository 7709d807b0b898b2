"""What every compat surface shares: identifying the caller without the native error envelope."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Optional

from flask import Response, jsonify
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from werkzeug.exceptions import HTTPException

from shared.models import User
from shared.principal import authenticate


class CompatError(Exception):
    """An error in a surface's own shape: ``body`` is sent as JSON with ``status``."""

    def __init__(self, status: int, body: Any):
        super().__init__(status)
        self.status = status
        self.body = body


def compat_user(unauthorized_body: Any, status: int = 401) -> User:
    """The caller (token or API key), or a CompatError with the surface's own 401 body."""
    try:
        return authenticate()
    except (JWTExtendedException, PyJWTError):
        raise CompatError(status, unauthorized_body) from None
    except HTTPException as exc:
        if exc.code == 401:
            raise CompatError(status, unauthorized_body) from None
        raise


def error_handler(bp, reshape: Callable[[int, str], Any]) -> None:
    """Answer CompatError as is, and reshape every other HTTP error of the surface with ``reshape``."""

    @bp.errorhandler(CompatError)
    def _compat(exc: CompatError) -> tuple[Response, int]:
        return jsonify(exc.body), exc.status

    @bp.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        message = (getattr(exc, "data", None) or {}).get("message") or exc.description
        return jsonify(reshape(exc.code or 500, message)), exc.code or 500


def iso_z(moment: Optional[datetime]) -> Optional[str]:
    """A UTC timestamp as Django REST framework writes it: ``2025-11-13T17:13:21.827306Z``."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
