"""Seed 004's signup and login under /compat/converter; its users are native users.

Both take JSON (or a form) and answer 200 with the seed's Spanish messages: the seed names a status
code only where it is not 200. Errors are ``{"message": ...}`` like its replies; the native rules
apply to the account (username pattern, e-mail, password strength), worded as the native API
words them.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError

from services.auth import schemas, services
from services.auth.views import throttled
from shared.credential_throttle import Throttled, client_address

bp = Blueprint("compat_converter_auth", __name__, url_prefix="/compat/converter")

SIGNUP_FIELDS = ("username", "password1", "password2", "email")
BAD_CREDENTIALS = {"message": "Usuario o contraseña incorrectos"}


def _body() -> dict:
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    return body if isinstance(body, dict) else {}


def _message(status: int, message: str):
    return jsonify({"message": message}), status


@bp.post("/api/auth/signup")
def signup():
    body = _body()
    missing = [name for name in SIGNUP_FIELDS if not body.get(name)]
    if missing:
        return _message(400, "Faltan campos obligatorios: " + ", ".join(missing))
    if body["password1"] != body["password2"]:
        return _message(400, "Las contraseñas no coinciden")
    try:
        data = schemas.RegisterSchema().load({"username": body["username"], "email": body["email"],
                                              "password": body["password1"]})
        user = services.register_user(**data)
    except ValidationError as exc:
        field, problems = next(iter(exc.messages.items()))
        return _message(400, f"{field}: {' '.join(problems)}")
    except services.AccountError as exc:
        return _message(exc.status, str(exc))
    return jsonify({"message": "usuario creado exitosamente", "id": user.id})


@bp.post("/api/auth/login")
def login():
    body = _body()
    if not body.get("username") or not body.get("password"):
        return _message(400, "Faltan campos obligatorios: username, password")
    try:
        signed_in = services.guarded_login(str(body["username"]), str(body["password"]), client_address())
    except Throttled as exc:
        return throttled({"message": f"Demasiados intentos fallidos; inténtelo de nuevo en {exc.retry_after} "
                                     "segundos"}, exc)
    if signed_in is None:
        return _message(401, BAD_CREDENTIALS["message"])
    user, tokens = signed_in
    return jsonify({"message": "Inicio de sesión exitoso", "token": tokens["access_token"],
                    "id": user.id})
