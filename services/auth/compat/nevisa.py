"""Seed 000's login (Nevisa, Django REST framework conventions) under /compat/nevisa.

The user logs in with ``username_or_phone_or_email`` and password (JSON or a form) and gets the
seed's user object. Its ``token`` is a native access token from a new login session, so it changes
every time the user logs in, as the seed says. Decisions on what the seed leaves open:

* ``id`` is the user's public UUID; ``is_staff`` is the administrator role; ``is_telegram_user`` is
  always false (Conveyor has no Telegram sign-in).
* ``nevisa_service_account`` ("like Retrieve Account") is computed from the native account: whether
  it may submit, how many live API keys it has (the seed's ``api_key`` comes from there) and the
  installation's limits. No key is ever shown again: the native API keeps only their hashes.
* Errors are DRF's ``{"detail": ...}``; missing fields are DRF's 400 per field.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import func, select

from services.auth import services
from services.auth.views import drf_throttled, throttled
from shared.credential_throttle import Throttled, client_address
from shared.db import db
from shared.models import ApiKey, User

bp = Blueprint("compat_nevisa_auth", __name__, url_prefix="/compat/nevisa")

LOGIN_FIELDS = ("username_or_phone_or_email", "password")
BAD_CREDENTIALS = {"detail": "Unable to log in with provided credentials."}


def _body() -> dict:
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    return body if isinstance(body, dict) else {}


def service_account(user: User) -> dict:
    """The seed's service-account block, from the native account and the installation's limits."""
    live_keys = db.session.scalar(select(func.count()).select_from(ApiKey).where(
        ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))) or 0
    config = current_app.config
    return {"id": str(user.public_id), "is_active": user.is_active, "can_submit": user.may_submit,
            "api_keys": live_keys, "max_active_tasks": config["MAX_ACTIVE_JOBS"],
            "max_upload_bytes": config["MAX_UPLOAD_BYTES"]}


@bp.post("/account/login")
def login():
    body = _body()
    missing = {name: ["This field is required."] for name in LOGIN_FIELDS if not body.get(name)}
    if missing:
        return jsonify(missing), 400
    try:
        signed_in = services.guarded_login(str(body["username_or_phone_or_email"]), str(body["password"]),
                                           client_address())
    except Throttled as exc:
        return throttled(drf_throttled(exc), exc)
    if signed_in is None:
        return jsonify(BAD_CREDENTIALS), 401
    user, tokens = signed_in
    return jsonify({"message": "Successfully logged in.", "user": {
        "id": str(user.public_id), "token": tokens["access_token"], "username": user.username,
        "phone": user.phone, "email": user.email, "is_staff": user.is_admin, "is_telegram_user": False,
        "nevisa_service_account": service_account(user)}})
