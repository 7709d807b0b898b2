"""Seed 003's accounts (lazy-lecture, FastAPI conventions) under /compat/lecture/auth.

Its users are native users: ``id`` is the native integer id, ``active`` is ``is_active``,
``can_interact`` is ``may_submit`` and ``role`` is ``admin`` or ``user``. Decisions on what the seed
leaves open or gets wrong:

* The seed's rules for new credentials apply on register and patch (username: 5-64 Latin letters;
  password: 8-256 characters with upper and lower case letters, digits and a special character),
  and so do the native password rules, so a password must satisfy both. Login checks only that both
  fields are strings: a native account whose name has digits can still log in here.
* Accounts made here start with ``can_interact`` false, as the seed's do: an administrator enables
  them with ``PATCH /auth/patch`` (the ``CONVEYOR_ADMIN_TOKEN`` secret, compared in constant time).
  The seed has no e-mail address, which native accounts need: theirs is ``<username>@lecture.invalid``
  (a reserved domain that delivers nowhere).
* ``update_date`` is the later of the creation and the last password change or deactivation.
* Logins, and wrong ``secret_admin_token`` values, go through the credential throttle every login
  route shares (shared.credential_throttle): 429 ``{"detail": ...}`` with Retry-After.
* Errors the seed answers with 418 are proper codes here: a wrong admin secret is 401, an unknown
  user 404, unknown body fields 422. Validation errors are FastAPI's ``{"detail": [{type, loc, msg,
  input}]}``; the rest are ``{"detail": "..."}``.
"""
from __future__ import annotations

import hmac
import re
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError

from services.auth import services
from services.auth.views import throttled
from shared import credential_throttle as throttle
from shared.compat.lecture import Invalid, Refused, caller, detail, install_error_handlers, problem, user_view
from shared.credential_throttle import Throttled, client_address
from shared.db import db, unit_of_work
from shared.models import User
from shared.passwords import hash_password, password_problems
from shared.principal import verify_refresh_token

bp = Blueprint("compat_lecture_auth", __name__, url_prefix="/compat/lecture/auth")
install_error_handlers(bp)

EMAIL_DOMAIN = "lecture.invalid"
SEED_USERNAME = re.compile(r"[A-Za-z]{5,64}")
SEED_SPECIALS = re.compile(r'[!@#$%^&*(),.?":{}|<>=_]')
USERNAME_RULE = "Username must consist of Latin letters only and be between 5 and 64 characters long."
PASSWORD_RULE = ("Password must be 8-256 characters long, include Latin letters (uppercase and lowercase), "
                 "numbers, and at least one special character.")
PATCH_FIELDS = ("password", "can_interact")


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid([problem("missing", ["body"], "Field required")])
    return body


def _strings(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    problems = []
    for name in names:
        if name not in body:
            problems.append(problem("missing", ["body", name], "Field required"))
        elif not isinstance(body[name], str):
            problems.append(problem("string_type", ["body", name], "Input should be a valid string", body[name]))
    if problems:
        raise Invalid(problems)
    return {name: body[name] for name in names}


def _seed_password_ok(password: str) -> bool:
    return (8 <= len(password) <= 256 and re.search(r"[A-Z]", password) is not None
            and re.search(r"[a-z]", password) is not None and re.search(r"\d", password) is not None
            and SEED_SPECIALS.search(password) is not None)


def _check_new_password(password: str, username: str, email: str) -> None:
    if not _seed_password_ok(password):
        raise Invalid([problem("value_error", ["body", "password"], f"Value error, {PASSWORD_RULE}", password)])
    native = password_problems(password, username, email)
    if native:
        raise Invalid([problem("value_error", ["body", "password"],
                               "Value error, Password " + "; ".join(native) + ".", password)])


def _token_pair(tokens: dict[str, Any]):
    return jsonify({"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
                    "token_type": "bearer"})


@bp.post("/register")
def register():
    data = _strings(_json_body(), ("username", "password"))
    username, password = data["username"], data["password"]
    if not SEED_USERNAME.fullmatch(username):
        raise Invalid([problem("value_error", ["body", "username"], f"Value error, {USERNAME_RULE}", username)])
    email = f"{username.lower()}@{EMAIL_DOMAIN}"
    _check_new_password(password, username, email)
    try:
        # The surface's accounts wait for an administrator to let them interact.
        user = services.register_user(username, email, password, may_submit=False)
    except services.AccountError as exc:
        if exc.status == 409:
            raise Refused(409, f"User '{username}' already exists") from None
        raise Invalid([problem("value_error", ["body", exc.field or "body"], f"Value error, {exc}")]) from None
    return jsonify(user_view(user)), 201


@bp.post("/login")
def login():
    data = _strings(_json_body(), ("username", "password"))
    try:
        signed_in = services.guarded_login(data["username"], data["password"], client_address())
    except Throttled as exc:
        return throttled({"detail": exc.message}, exc)
    if signed_in is None:
        return detail(401, "Incorrect username or password")
    return _token_pair(signed_in[1])


@bp.post("/refresh")
def refresh():
    token = _strings(_json_body(), ("refresh_token",))["refresh_token"]
    try:
        user, claims = verify_refresh_token(token)
    except (PyJWTError, JWTExtendedException, ValueError):
        raise Refused(401, "Invalid or expired token") from None
    tokens = services.refresh_session(user, claims["sid"])
    return _token_pair(tokens)


@bp.get("/info")
def info():
    return jsonify(user_view(caller()))


def _query_user_id() -> int:
    problems = []
    raw = request.args.get("user_id")
    if raw is None:
        problems.append(problem("missing", ["query", "user_id"], "Field required"))
    elif not re.fullmatch(r"-?\d{1,18}", raw.strip()):
        problems.append(problem("int_parsing", ["query", "user_id"],
                                "Input should be a valid integer, unable to parse string as an integer", raw))
    if request.args.get("secret_admin_token") is None:
        problems.append(problem("missing", ["query", "secret_admin_token"], "Field required"))
    if problems:
        raise Invalid(problems)
    return int(raw)


def _patch_changes(body: dict[str, Any]) -> dict[str, Any]:
    problems = [problem("extra_forbidden", ["body", name], "Extra inputs are not permitted", body[name])
                for name in body if name not in PATCH_FIELDS]
    password, can_interact = body.get("password"), body.get("can_interact")
    if password is not None and not isinstance(password, str):
        problems.append(problem("string_type", ["body", "password"], "Input should be a valid string", password))
    if can_interact is not None and not isinstance(can_interact, bool):
        problems.append(problem("bool_type", ["body", "can_interact"], "Input should be a valid boolean",
                                can_interact))
    if problems:
        raise Invalid(problems)
    return {"password": password, "can_interact": can_interact}


@bp.patch("/patch")
def patch_user():
    user_id = _query_user_id()
    presented = request.args["secret_admin_token"].encode()
    scopes = throttle.secret_scopes("lecture-admin-token")
    try:
        throttle.check(scopes)
    except Throttled as exc:
        return throttled({"detail": exc.message}, exc)
    if not hmac.compare_digest(presented, current_app.config["ADMIN_TOKEN"].encode()):
        throttle.record_failure(scopes)
        raise Refused(401, "Wrong admin token")
    changes = _patch_changes(_json_body())
    user = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        raise Refused(404, "User not found")
    if changes["password"] is not None:
        _check_new_password(changes["password"], user.username, user.email)
    _apply_patch(user, changes)
    return jsonify(user_view(user))


@unit_of_work
def _apply_patch(user: User, changes: dict[str, Any]) -> None:
    """An administrator's new password and permission to interact, in one unit of work."""
    if changes["password"] is not None:
        user.password_hash = hash_password(changes["password"])
        services.void_all_tokens(user)  # like the seed's password_timestamp: old tokens stop working
    if changes["can_interact"] is not None:
        user.may_submit = changes["can_interact"]
