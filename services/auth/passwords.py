"""Password hashing (argon2id) and the strength rule for new passwords."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher()
# Verified against when the login name is unknown, so both cases take the same time.
_DUMMY_HASH = HASHER.hash("conveyor-dummy-password")

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password``; with no hash (unknown user) still spend the time of one check."""
    try:
        return HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


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
