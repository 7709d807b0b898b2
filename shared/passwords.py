"""Password hashing (argon2id) and the strength rule for new passwords (auth and the operator commands)."""
from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_LENGTH = 10


@functools.lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    # Verified against when the login name is unknown, so both cases take the same time.
    return hasher, hasher.hash("conveyor-dummy-password")


def _current() -> tuple[PasswordHasher, str]:
    """The argon2id hasher with the configured cost (RFC 9106 defaults unless lowered for tests)."""
    return _hasher(current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_KIB"])


def hash_password(password: str) -> str:
    return _current()[0].hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password``; with no hash (unknown user) still spend the time of one check."""
    hasher, dummy = _current()
    try:
        return hasher.verify(password_hash or dummy, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True for hashes made with other costs (they are upgraded at the next login)."""
    return _current()[0].check_needs_rehash(password_hash)


def password_problems(password: str, username: str = "", email: str = "") -> list[str]:
    """What is wrong with a new password (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must have at least {MIN_LENGTH} characters")
    if len(password) > 256:
        problems.append("must have at most 256 characters")
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        problems.append("must contain letters and digits")
    lowered = password.lower()
    for name in (username, email.split("@")[0]):
        if len(name) >= 3 and name.lower() in lowered:
            problems.append("must not contain the username or e-mail name")
            break
    return problems
