"""Seed 001's login (FastAPI's OAuth2 password form) under /compat/primitives.

The form is ``application/x-www-form-urlencoded`` as OAuth2PasswordRequestForm reads it; the seed
also shows it as JSON, so a JSON body is accepted too. Missing fields are FastAPI's 422 list.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from services.auth import services
from services.auth.views import throttled
from shared.credential_throttle import Throttled, client_address

bp = Blueprint("compat_primitives_auth", __name__, url_prefix="/compat/primitives")

BAD_CREDENTIALS = {"detail": "Incorrect username or password"}


def _missing(body: dict) -> list[dict]:
    return [{"type": "missing", "loc": ["body", name], "msg": "Field required", "input": None}
            for name in ("username", "password") if not body.get(name)]


@bp.post("/oauth/login")
def login():
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    body = body if isinstance(body, dict) else {}
    problems = _missing(body)
    if body.get("grant_type") not in (None, "", "password"):
        problems.append({"type": "string_pattern_mismatch", "loc": ["body", "grant_type"],
                         "msg": "String should match pattern '^password$'",
                         "input": body["grant_type"]})
    if problems:
        return jsonify({"detail": problems}), 422
    try:
        signed_in = services.guarded_login(str(body["username"]), str(body["password"]), client_address())
    except Throttled as exc:
        return throttled({"detail": exc.message}, exc)
    if signed_in is None:
        return jsonify(BAD_CREDENTIALS), 422
    tokens = signed_in[1]
    return jsonify({"access_token": tokens["access_token"], "token_type": "Bearer"})
