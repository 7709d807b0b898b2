"""Seed 002's token endpoints (Simple JWT style) under /compat/translate."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from jwt.exceptions import PyJWTError

from services.auth import services
from services.auth.views import drf_throttled, throttled
from shared.credential_throttle import Throttled, client_address
from shared.principal import verify_refresh_token

bp = Blueprint("compat_translate_auth", __name__, url_prefix="/compat/translate")

BAD_CREDENTIALS = {"detail": "No active account found with the given credentials"}
BAD_TOKEN = {"detail": "Token is invalid or expired", "code": "token_not_valid"}


def _field_errors(body: dict, names: tuple[str, ...]):
    missing = {name: ["This field is required."] for name in names if not body.get(name)}
    return (jsonify(missing), 400) if missing else None


@bp.post("/api/token/")
def token():
    body = request.get_json(silent=True) or request.form.to_dict()
    problem = _field_errors(body, ("username", "password"))
    if problem:
        return problem
    try:
        signed_in = services.guarded_login(str(body["username"]), str(body["password"]), client_address())
    except Throttled as exc:
        return throttled(drf_throttled(exc), exc)
    if signed_in is None:
        return jsonify(BAD_CREDENTIALS), 401
    tokens = signed_in[1]
    return jsonify({"access": tokens["access_token"], "refresh": tokens["refresh_token"]})


@bp.post("/api/token/refresh/")
def refresh():
    body = request.get_json(silent=True) or request.form.to_dict()
    problem = _field_errors(body, ("refresh",))
    if problem:
        return problem
    try:
        user, claims = verify_refresh_token(str(body["refresh"]))
    except (PyJWTError, ValueError):
        return jsonify(BAD_TOKEN), 401
    tokens = services.refresh_session(user, claims["sid"])
    return jsonify({"access": tokens["access_token"], "refresh": tokens["refresh_token"]})



