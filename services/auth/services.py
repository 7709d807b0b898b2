"""Account logic of the auth service, callable without HTTP."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import update

from shared import credential_throttle as throttle
from shared.accounts import AccountError, find_user, new_user
from shared.clock import utcnow
from shared.db import db, unit_of_work
from shared.keys import key_id
from shared.models import ApiKey, AuthSession, User
from shared.passwords import hash_password, needs_rehash, password_problems, verify_password
from shared.principal import DEFAULT_KEY_SCOPES, KEY_SCOPES, new_api_key

LOGGER = logging.getLogger(__name__)

MAX_KEY_LIFETIME = timedelta(days=3650)


@unit_of_work
def register_user(username: str, email: str, password: str, phone: Optional[str] = None,
                  role: str = "user", may_submit: bool = True) -> User:
    """Create an account; AccountError for a weak password or a name already taken."""
    return new_user(username, email, password, phone, role, may_submit)


@unit_of_work
def authenticate_password(user: Optional[User], password: str) -> Optional[User]:
    """``user`` when it is active and ``password`` is its password, else None (always one hash check)."""
    if not verify_password(user.password_hash if user else None, password) or not user.is_active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _token_claims(user: User, session_id: uuid.UUID) -> dict[str, Any]:
    return {"sid": str(session_id), "role": user.role}


def _kid_header() -> dict[str, str]:
    return {"kid": key_id(current_app.config["JWT_PUBLIC_KEY"])}


def _issue(user: User, session: AuthSession) -> dict[str, Any]:
    claims = _token_claims(user, session.id)
    access = create_access_token(identity=str(user.id), additional_claims=claims,
                                 additional_headers=_kid_header())
    refresh = create_refresh_token(identity=str(user.id), additional_claims=claims,
                                   additional_headers=_kid_header())
    session.refresh_jti = decode_token(refresh, allow_expired=True)["jti"]
    lifetime: timedelta = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
            "expires_in": int(lifetime.total_seconds())}


@unit_of_work
def login(user: Optional[User], password: str) -> Optional[tuple[User, dict[str, Any]]]:
    """``user`` and the tokens of a new session when it is active and the password is right, else None."""
    user = authenticate_password(user, password)
    return None if user is None else (user, start_session(user))


def guarded_login(name: str, password: str, address: str) -> Optional[tuple[User, dict[str, Any]]]:
    """login() behind the credential throttle, which every login route shares.

    Raises credential_throttle.Throttled, before the password is checked, while the account (by
    user id, whichever of its names was typed; by the typed name when there is no such account) or
    the client ``address`` must wait. A failure counts against both; a success clears the account's
    count.
    """
    user = find_user(name)  # once: the throttle's account and the password check are the same user
    account = throttle.account_scopes(user, name, address)
    scopes = account + [throttle.address_scope(address)]
    throttle.check(scopes)
    signed_in = login(user, password)
    if signed_in is None:
        throttle.record_failure(scopes)
    else:
        throttle.clear(account)
    return signed_in


@unit_of_work
def start_session(user: User) -> dict[str, Any]:
    """Log ``user`` in: a new session with a fresh access and refresh token."""
    session = AuthSession(id=uuid.uuid4(), user_id=user.id, refresh_jti="",
                          expires_at=utcnow() + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"])
    db.session.add(session)
    user.last_login_at = utcnow()
    tokens = _issue(user, session)
    return tokens


@unit_of_work
def refresh_session(user: User, session_id: str) -> dict[str, Any]:
    """Rotate the session's tokens; the refresh token just used becomes void."""
    session = db.session.get(AuthSession, uuid.UUID(session_id))
    session.expires_at = utcnow() + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    return _issue(user, session)


@unit_of_work
def end_session(session_id: str) -> None:
    """Revoke one login: its access and refresh tokens stop working."""
    db.session.execute(update(AuthSession).where(AuthSession.id == uuid.UUID(session_id))
                       .values(revoked_at=utcnow()))


def void_all_tokens(user: User) -> None:
    """Revoke every session and every token issued to ``user`` until now."""
    # JWT iat has one-second precision, so this catches tokens of earlier seconds; tokens of this
    # very second are caught by their revoked session, and a login right after still works.
    user.tokens_valid_after = datetime.now(timezone.utc).replace(microsecond=0)
    db.session.execute(update(AuthSession).where(AuthSession.user_id == user.id,
                                                 AuthSession.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))


@unit_of_work
def change_password(user: User, current_password: str, new_password: str) -> None:
    """Set a new password after checking the current one; every earlier token is revoked."""
    if not verify_password(user.password_hash, current_password):
        raise AccountError("The current password is wrong.", field="current_password", status=403)
    problems = password_problems(new_password, user.username, user.email)
    if problems:
        raise AccountError("Password " + "; ".join(problems) + ".", field="new_password")
    user.password_hash = hash_password(new_password)
    void_all_tokens(user)


@unit_of_work
def update_user(user: User, changes: dict[str, Any]) -> User:
    """Apply an administrator's changes (role, active, may_submit)."""
    for field in ("role", "is_active", "may_submit"):
        if field in changes:
            setattr(user, field, changes[field])
    if changes.get("is_active") is False or "role" in changes:
        void_all_tokens(user)
    return user


@unit_of_work
def create_api_key(user: User, name: str, scopes: Optional[list[str]] = None,
                   expires_at: Optional[datetime] = None, expires_in_days: Optional[int] = None,
                   granting_key: Optional[ApiKey] = None) -> tuple[ApiKey, str]:
    """A new API key of ``user``: the row, and the key itself (shown to the user once).

    AccountError when the expiry is past, when a non-administrator asks for ``admin``, or when the
    key making it (``granting_key``) would hand out a scope it does not hold itself.
    """
    scopes = sorted(set(scopes or DEFAULT_KEY_SCOPES), key=KEY_SCOPES.index)
    if "admin" in scopes and not user.is_admin:
        raise AccountError("Only administrators can give a key the admin scope.", field="scopes", status=403)
    if granting_key is not None and not set(scopes) <= set(granting_key.scope_list):
        raise AccountError("A key cannot give a new key scopes it does not hold itself.", field="scopes",
                           status=403)
    if expires_in_days is not None:
        expires_at = utcnow() + timedelta(days=expires_in_days)
    # Aware datetimes subtract without overflowing, whatever their offset (year 1 or 9999 included).
    if expires_at is not None:
        if not timedelta(0) < expires_at - utcnow() <= MAX_KEY_LIFETIME:
            raise AccountError("expires_at must be in the future, and at most 10 years from now.",
                               field="expires_at")
        expires_at = expires_at.astimezone(timezone.utc)
    key, key_hash = new_api_key()
    api_key = ApiKey(user_id=user.id, name=name, prefix=key[:12], key_hash=key_hash, scopes=" ".join(scopes),
                     expires_at=expires_at)
    db.session.add(api_key)
    db.session.flush()
    return api_key, key


@unit_of_work
def revoke_api_key(user: User, key_id: uuid.UUID) -> bool:
    """Revoke one of ``user``'s live API keys; False when the user has no such key."""
    api_key = db.session.get(ApiKey, key_id)
    if api_key is None or api_key.user_id != user.id or api_key.revoked_at is not None:
        return False
    api_key.revoked_at = utcnow()
    return True
