"""Creating accounts: the rules for a new user and for the first administrator.

The auth service registers users with them, and the operator command ``init`` (services.ops) makes
the administrator from the settings, without either importing the other. Like the rest of the
library these only add to the session: the caller's unit of work commits.
"""
from __future__ import annotations

import logging
from typing import Optional

from sqlalchemy import func, or_, select

from shared.db import db
from shared.models import User
from shared.passwords import hash_password, password_problems, verify_password

LOGGER = logging.getLogger(__name__)


class AccountError(ValueError):
    """A request the account rules refuse; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str = "", status: int = 400):
        super().__init__(message)
        self.field = field
        self.status = status


def find_user(login: str) -> Optional[User]:
    """A user by username, e-mail or phone (case-insensitive for the first two)."""
    login = login.strip()
    return db.session.scalars(select(User).where(or_(
        func.lower(User.username) == login.lower(), func.lower(User.email) == login.lower(),
        User.phone == login))).first()


def new_user(username: str, email: str, password: str, phone: Optional[str] = None,
             role: str = "user", may_submit: bool = True) -> User:
    """Add an account to the session; AccountError for a weak password or a name already taken."""
    problems = password_problems(password, username, email)
    if problems:
        raise AccountError("Password " + "; ".join(problems) + ".", field="password")
    for field, value in (("username", username), ("email", email), ("phone", phone)):
        if value and find_user(value) is not None:
            raise AccountError(f"This {field} is already registered.", field=field, status=409)
    user = User(username=username, email=email.lower(), phone=phone or None,
                password_hash=hash_password(password), role=role, is_active=True, may_submit=may_submit)
    db.session.add(user)
    db.session.flush()
    LOGGER.info("registered user %s (id %s)", username, user.id)
    return user


def bootstrap_admin(username: str, password: str, email: str = "") -> User:
    """Create the first administrator, or reset its password and role, from the settings."""
    user = find_user(username)
    if user is None:
        return new_user(username, email or f"{username}@localhost", password, role="admin")
    problems = password_problems(password, username, user.email)
    if problems:
        raise AccountError("Password " + "; ".join(problems) + ".", field="password")
    if not verify_password(user.password_hash, password):
        user.password_hash = hash_password(password)
    user.role = "admin"
    user.is_active = True
    return user
