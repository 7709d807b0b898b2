"""Browser sessions for the console: the login's tokens go into HttpOnly cookies, not the body.

The same login session as ``POST /auth/v1/login`` (throttle, revocation, refresh rotation), only
carried differently; shared/principal.py explains the cookies and their CSRF protection. The
console calls POST ``/auth/v1/session`` to log in, POST ``/auth/v1/session/refresh`` when an
access cookie has expired, and DELETE ``/auth/v1/session`` to log out.
"""
from __future__ import annotations

from flask import current_app, jsonify, make_response
from flask_jwt_extended import (
    get_current_user,
    get_jwt,
    set_access_cookies,
    set_refresh_cookies,
    unset_jwt_cookies,
    verify_jwt_in_request,
)
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_smorest import Blueprint
from jwt.exceptions import PyJWTError

from services.auth import schemas, services
from shared.credential_throttle import Throttled, client_address
from shared.errors import fail
from shared.principal import SESSION_PATH

bp = Blueprint("browser_session", __name__, url_prefix=SESSION_PATH,
               description="Browser sessions (HttpOnly cookies with CSRF protection) for the web console")


def _with_cookies(user, tokens: dict):
    """The user as JSON, with the token pair set as cookies (the body never holds a token)."""
    response = make_response(jsonify(schemas.UserSchema().dump(user)))
    # Each cookie lives as long as its token: when the access cookie (and its CSRF companion) is
    # gone, the console knows to renew it with the refresh cookie instead of meeting a 401.
    set_access_cookies(response, tokens["access_token"],
                       max_age=int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()))
    set_refresh_cookies(response, tokens["refresh_token"],
                        max_age=int(current_app.config["JWT_REFRESH_TOKEN_EXPIRES"].total_seconds()))
    return response


@bp.route("", methods=["POST"])
@bp.arguments(schemas.LoginSchema)
@bp.response(200, schemas.UserSchema)
def log_in(data):
    """Log in a browser: the tokens are set as HttpOnly cookies, and a readable CSRF cookie."""
    try:
        signed_in = services.guarded_login(data["login"] or data["username"] or data["email"] or "",
                                           data["password"], client_address())
    except Throttled as exc:
        fail(429, exc.message, headers={"Retry-After": str(exc.retry_after)})
    if signed_in is None:
        fail(401, "Incorrect username or password.")
    return _with_cookies(*signed_in)


@bp.route("/refresh", methods=["POST"])
@bp.response(200, schemas.UserSchema)
def refresh():
    """Renew the browser's cookies with its refresh cookie (which is then void)."""
    verify_jwt_in_request(refresh=True, locations=["cookies"])
    user = get_current_user()
    return _with_cookies(user, services.refresh_session(user, get_jwt()["sid"]))


@bp.route("", methods=["DELETE"])
@bp.response(204)
def log_out():
    """End the browser's login session (its tokens stop working) and clear its cookies."""
    # The refresh cookie outlives the access cookie, so it is the one that names the session here;
    # a void or expired one has no session left to end, and its cookies are cleared all the same.
    try:
        if verify_jwt_in_request(refresh=True, locations=["cookies"], optional=True) is not None:
            services.end_session(get_jwt()["sid"])
    except (JWTExtendedException, PyJWTError):
        pass
    response = make_response("", 204)
    unset_jwt_cookies(response)
    return response

