"""Who is calling: access tokens (JWT, RS256) and API keys, for both Flask services.

Tokens are verified with the public key only; a token is void once its login
session is revoked (logout), its user is deactivated, or it was issued before the
user's last password change. API keys may expire and carry scopes (KEY_SCOPES);
wrong keys count against the caller's address in shared.credential_throttle.

Browsers (the console at ``/``) get the same tokens in cookies instead of the Authorization
header, because an EventSource (the live progress stream) cannot send headers and a token kept
in page memory would be lost on every reload. The cookies are HttpOnly (no script reads the
token), SameSite=Strict, Secure when CONVEYOR_PUBLIC_URL is https, and carry a login session
like any token, so logout and revocation work the same. Cross-site request forgery is refused
twice: every unsafe request authenticated by cookie must repeat the token's CSRF value (a
readable companion cookie) in the X-CSRF-Token header, which another site cannot read; and an
unsafe request that carries our cookies with an Origin (or Referer) of another origin is
refused with 403 before any view runs.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from flask import Flask, current_app, g, has_request_context, request
from flask_jwt_extended import decode_token, get_current_user, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from sqlalchemy import select, update

from shared import credential_throttle as throttle
from shared import principal_cache
from shared.clock import utcnow
from shared.config import Config
from shared.db import db
from shared.errors import error_response, fail
from shared.keys import read_key
from shared.models import ApiKey, AuthSession, User
from shared.verified_tokens import CachingJWTManager

API_KEY_PREFIX = "cvk_"
# What an API key may do. Reading (GET) needs jobs:read and writing jobs:write on every route that
# takes keys; administrator routes need admin (and an administrator); creating or revoking keys needs
# keys:write, and a key can only give a new key scopes it holds itself.
KEY_SCOPES = ("jobs:read", "jobs:write", "keys:write", "admin")
DEFAULT_KEY_SCOPES = ("jobs:read", "jobs:write")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ISSUER = "conveyor"
# The browser session's cookies (see the module docstring); the console reads only the CSRF ones.
ACCESS_COOKIE = "conveyor_access"
REFRESH_COOKIE = "conveyor_refresh"
ACCESS_CSRF_COOKIE = "conveyor_csrf"
REFRESH_CSRF_COOKIE = "conveyor_refresh_csrf"
CSRF_HEADER = "X-CSRF-Token"
# The refresh cookie goes only to the routes that renew or end a browser session.
SESSION_PATH = "/auth/v1/session"

# Claims of a token verified once are reused for the same string until it expires (see the module).
jwt = CachingJWTManager()


def configure_jwt(app: Flask, config: Config, sign: bool) -> None:
    """Set flask-jwt-extended up for RS256; only the auth service (``sign``) gets the private key."""
    app.config.update(
        JWT_ALGORITHM=config.JWT_ALGORITHM,
        JWT_DECODE_ALGORITHMS=[config.JWT_ALGORITHM],
        JWT_PUBLIC_KEY=read_key(config.JWT_PUBLIC_KEY_FILE),
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=config.ACCESS_TOKEN_MINUTES),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=config.REFRESH_TOKEN_DAYS),
        # Header first: an API client's bearer token wins over a browser cookie.
        JWT_TOKEN_LOCATION=["headers", "cookies"],
        JWT_ACCESS_COOKIE_NAME=ACCESS_COOKIE,
        JWT_REFRESH_COOKIE_NAME=REFRESH_COOKIE,
        JWT_ACCESS_CSRF_COOKIE_NAME=ACCESS_CSRF_COOKIE,
        JWT_REFRESH_CSRF_COOKIE_NAME=REFRESH_CSRF_COOKIE,
        JWT_ACCESS_CSRF_HEADER_NAME=CSRF_HEADER,
        JWT_REFRESH_CSRF_HEADER_NAME=CSRF_HEADER,
        JWT_REFRESH_COOKIE_PATH=SESSION_PATH,
        JWT_REFRESH_CSRF_COOKIE_PATH="/",
        JWT_COOKIE_CSRF_PROTECT=True,
        JWT_COOKIE_SAMESITE="Strict",
        JWT_COOKIE_SECURE=config.PUBLIC_URL.startswith("https://"),
        # Cookies outlive a browser restart; services/auth/browser_session.py gives each its token's lifetime.
        JWT_SESSION_COOKIE=False,
        JWT_ENCODE_ISSUER=ISSUER,
        JWT_DECODE_ISSUER=ISSUER,
        JWT_ERROR_MESSAGE_KEY="message",
    )
    if sign:
        app.config["JWT_PRIVATE_KEY"] = read_key(config.JWT_PRIVATE_KEY_FILE)
    jwt.init_app(app)
    app.before_request(refuse_cross_origin_cookies)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def refuse_cross_origin_cookies() -> None:
    """403 for an unsafe request with our session cookies (or to log in) that comes from another origin.

    SameSite=Strict keeps other sites' requests cookieless, but not a sibling origin of the same
    site (another port, a subdomain); the browser names the page that sent a request in Origin
    (or, failing that, Referer). A request naming neither is not from a page script: the CSRF
    header check still applies to it.
    """
    browser_session = (ACCESS_COOKIE in request.cookies or REFRESH_COOKIE in request.cookies
                       or request.path.startswith(SESSION_PATH))  # logging in is a change too
    if request.method in READ_METHODS or not browser_session:
        return
    sender = request.headers.get("Origin") or request.headers.get("Referer")
    if not sender:
        return
    allowed = {_origin_of(request.host_url), _origin_of(current_app.config["PUBLIC_URL"])}
    if _origin_of(sender) not in allowed:
        fail(403, "Cross-origin request refused: this session's cookies only work from Conveyor's own pages.")


def _unauthorized(message: str):
    return error_response(401, message, headers={"WWW-Authenticate": "Bearer"})


@jwt.unauthorized_loader
def _missing_token(reason: str):
    # flask-jwt-extended reports a cookie request without its CSRF header through this loader too.
    if "CSRF" in reason:
        return error_response(403, f"{reason}: a browser session must send the {CSRF_HEADER} header "
                                   f"(the value of the {ACCESS_CSRF_COOKIE} cookie) on changes.")
    return _unauthorized("Missing credentials: send 'Authorization: Bearer <token>' or an API key.")


@jwt.invalid_token_loader
def _invalid_token(reason: str):
    return _unauthorized("Invalid token.")


EXPIRED_ACCESS_TOKEN = "The access token has expired; refresh it (POST /auth/v1/refresh) or log in again."
EXPIRED_REFRESH_TOKEN = "The refresh token has expired; log in again (POST /auth/v1/login)."


@jwt.expired_token_loader
def _expired_token(header: dict, payload: dict):
    # Say what to do next: an access token is renewed with the refresh token, a refresh token is not.
    return _unauthorized(EXPIRED_REFRESH_TOKEN if payload.get("type") == "refresh" else EXPIRED_ACCESS_TOKEN)


@jwt.revoked_token_loader
def _revoked_token(header: dict, payload: dict):
    return _unauthorized("Token has been revoked.")


@jwt.user_lookup_error_loader
def _unknown_user(header: dict, payload: dict):
    return _unauthorized("Token has been revoked.")


@jwt.decode_key_loader
def _verification_key(header: dict, payload: dict):
    """The public key, parsed once per process (given the PEM text, PyJWT parses it on every request)."""
    return _public_key(current_app.config["JWT_PUBLIC_KEY"])


@functools.lru_cache(maxsize=4)
def _public_key(pem: str):
    return serialization.load_pem_public_key(pem.encode())


@jwt.token_in_blocklist_loader
def _is_revoked(header: dict, payload: dict) -> bool:
    session_id, user_id = _uuid_or_none(payload.get("sid")), int(payload["sub"])
    # An access token's live session is remembered per process (shared/principal_cache.py), so most
    # requests need no query; a refresh token is checked against its row every time (rotation).
    cache = principal_cache.cache_for(current_app.config["SQLALCHEMY_DATABASE_URI"])
    cacheable = payload.get("type") == "access" and session_id is not None
    cached = cache.get(session_id, user_id) if cacheable else None
    if cached is not None:
        g.token_user = db.session.merge(cached, load=False)
        return _issued_before_reset(g.token_user, payload)
    generation = cache.generation()
    # One round trip for both rows; the user then stays in the session for user_lookup_loader.
    row = db.session.execute(select(AuthSession, User).join(User, User.id == AuthSession.user_id).where(
        AuthSession.id == session_id, User.id == user_id)).first()
    if row is None:
        return True
    session, user = row
    # The session's identity map holds clean objects weakly: keep the user for user_lookup_loader.
    g.token_user = user
    if session.revoked_at is not None or not user.is_active:
        return True
    if payload.get("type") == "refresh" and not hmac.compare_digest(session.refresh_jti, payload["jti"]):
        return True
    if cacheable:
        cache.put(session_id, user, generation)
    return _issued_before_reset(user, payload)


def _issued_before_reset(user: User, payload: dict) -> bool:
    """A token issued before the user's last password change or deactivation is void."""
    return user.tokens_valid_after is not None and payload["iat"] < user.tokens_valid_after.timestamp()


def _live_token(token: str, token_type: str) -> tuple[User, dict[str, Any]]:
    """Check a token sent outside the Authorization header with the same rules as inside it.

    Raises PyJWTError (bad signature, expired, malformed) or ValueError (wrong type, revoked).
    """
    claims = decode_token(token)
    if claims.get("type") != token_type or _is_revoked({}, claims):
        raise ValueError(f"not a live {token_type} token")
    return g.token_user, claims


def verify_refresh_token(token: str) -> tuple[User, dict[str, Any]]:
    """The user and claims of a live refresh token sent in a body."""
    return _live_token(token, "refresh")


def user_for_access_token(token: str) -> Optional[User]:
    """The user of a live access token sent in a form field (seed APIs do that), else None."""
    try:
        return _live_token(token, "access")[0]
    except (PyJWTError, JWTExtendedException, ValueError):
        return None


@jwt.user_lookup_loader
def _load_user(header: dict, payload: dict) -> Optional[User]:
    user = g.get("token_user")
    if user is not None and user.id == int(payload["sub"]):
        return user
    return db.session.get(User, int(payload["sub"]))


def _uuid_or_none(value: Any) -> Optional[uuid.UUID]:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def new_api_key() -> tuple[str, str]:
    """A fresh API key and the hash stored for it (keys are random, so SHA-256 suffices)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _presented_api_key() -> Optional[str]:
    header = request.headers.get("X-API-Key")
    if header:
        return header
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "token") and value.startswith(API_KEY_PREFIX):
        return value
    return None


def required_scope() -> str:
    """The scope an API key needs for this request by default: reading, or writing."""
    return "jobs:read" if request.method in READ_METHODS else "jobs:write"


def _throttled(exc: throttle.Throttled):
    fail(429, exc.message, headers={"Retry-After": str(exc.retry_after)})


def user_for_api_key(key: str, scope: Optional[str] = None) -> Optional[User]:
    """The active owner of a live API key that holds ``scope`` (default: required_scope()), marking it used.

    None for a key that does not exist, is revoked or whose owner is deactivated: a failure counted
    against the caller's address (shared.credential_throttle), which is refused with 429 while it
    must wait. An expired key is refused with 401, a key without the scope with 403, each saying so.
    """
    # Outside a request (operator commands, tests) there is no address to throttle and no method.
    address = [throttle.address_scope()] if has_request_context() else []
    try:
        throttle.check(address)
    except throttle.Throttled as exc:
        _throttled(exc)
    api_key = db.session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key))).first()
    if api_key is None or api_key.revoked_at is not None or not api_key.user.is_active:
        throttle.record_failure(address)
        return None
    now = utcnow()
    if api_key.expires_at is not None and api_key.expires_at <= now:
        fail(401, f"This API key expired at {api_key.expires_at.isoformat()}; create a new one.",
             headers={"WWW-Authenticate": "Bearer"})
    scope = scope or (required_scope() if has_request_context() else None)
    if scope is not None and scope not in api_key.scope_list:
        fail(403, f"This API key lacks the '{scope}' scope (it has: {', '.join(api_key.scope_list)}).")
    # Recorded at minute precision (a write per request would cost more than the lookup itself), in
    # a short transaction of its own: bookkeeping, not part of the request's unit of work.
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        with db.engine.begin() as connection:
            connection.execute(update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now))
    if has_request_context():
        g.api_key = api_key
    return api_key.user


def authenticate(scope: Optional[str] = None) -> User:
    """Identify the caller by API key (which must hold ``scope``, default by method) or access token, or 401."""
    key = _presented_api_key()
    if key is not None:
        user = user_for_api_key(key, scope)
        if user is None:
            fail(401, "Invalid API key.")
    else:
        verify_jwt_in_request()
        user = get_current_user()
    g.user = user
    return user


def login_required(view: Optional[Callable] = None, *, key_scope: Optional[str] = None) -> Callable:
    """Any signed-in caller; an API key needs ``key_scope`` (default: jobs:read to read, jobs:write to write)."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            authenticate(key_scope)
            return view(*args, **kwargs)
        return wrapper
    return decorate(view) if view is not None else decorate


def admin_required(view: Callable) -> Callable:
    """An administrator; through an API key, one that holds the ``admin`` scope."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not authenticate("admin").is_admin:
            fail(403, "Administrator role required.")
        return view(*args, **kwargs)
    return wrapper


def calling_api_key() -> Optional[ApiKey]:
    """The API key this request was authenticated with, if it was."""
    return g.get("api_key")


def current_user() -> User:
    return g.user
