"""What both halves of the lecture surface share: its error bodies, its caller check, its user object.

The surface is split between the auth service (``/compat/lecture/auth/...``, which issues tokens)
and the API service (the transcriptions); both speak FastAPI's shapes: ``{"detail": "..."}``, and
``{"detail": [{type, loc, msg, input}]}`` for a request that does not validate.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from flask import Blueprint, Response, jsonify, request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from werkzeug.exceptions import HTTPException

from shared.models import User
from shared.principal import authenticate

RESTRICTED = "Access restricted. Either your role or can_interact is invalid for the action."


class Invalid(Exception):
    """A request FastAPI would refuse with 422: ``problems`` is its ``detail`` list."""

    def __init__(self, problems: list[dict[str, Any]]):
        super().__init__(problems)
        self.problems = problems


class Refused(Exception):
    """Any other refusal: ``{"detail": message}`` with ``status`` (401s carry a Bearer challenge)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def problem(kind: str, loc: list, msg: str, value: Any = None) -> dict[str, Any]:
    """One entry of FastAPI's validation ``detail`` list."""
    return {"type": kind, "loc": loc, "msg": msg, "input": value}


def detail(status: int, message: str) -> Response:
    """``{"detail": message}`` with ``status``; a 401 says which scheme to use, as FastAPI's does."""
    response = jsonify({"detail": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def install_error_handlers(bp: Blueprint) -> None:
    """Answer every error of ``bp`` in the seed's shapes."""

    @bp.errorhandler(Invalid)
    def _invalid(exc: Invalid):
        return jsonify({"detail": exc.problems}), 422

    @bp.errorhandler(Refused)
    def _refused(exc: Refused):
        return detail(exc.status, exc.message)

    @bp.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        message = (getattr(exc, "data", None) or {}).get("message") or exc.description or ""
        return detail(exc.code or 500, message)


def caller(can_interact: bool = False) -> User:
    """The user of the Bearer token (or a native API key), or the seed's 401/403."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if not request.headers.get("X-API-Key") and (scheme.lower() != "bearer" or not credential.strip()):
        raise Refused(401, "Invalid Authorization Header")
    try:
        user = authenticate()
    except (JWTExtendedException, PyJWTError):
        raise Refused(401, "Invalid or expired token") from None
    except HTTPException as exc:
        if exc.code == 401:
            raise Refused(401, "Invalid or expired token") from None
        raise
    if can_interact and not user.may_submit:
        raise Refused(403, RESTRICTED)
    return user


def lecture_time(moment: Optional[datetime]) -> Optional[str]:
    """A timestamp as the seed's server writes it: naive UTC ISO 8601 with microseconds."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


def user_view(user: User) -> dict[str, Any]:
    """The seed's UserResponse for a native user (``update_date``: last password change or block)."""
    changed = max(moment for moment in (user.created_at, user.tokens_valid_after) if moment is not None)
    return {"id": user.id, "username": user.username, "active": user.is_active,
            "can_interact": user.may_submit, "role": "admin" if user.is_admin else "user",
            "create_date": lecture_time(user.created_at), "update_date": lecture_time(changed)}
