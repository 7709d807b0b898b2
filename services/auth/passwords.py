"""Only for services/auth/compat/lecture.py, which still imports from here: hashing is shared.passwords.

Delete this file when that module imports ``from shared.passwords import hash_password, password_problems``
(its owner is changing compat right now, so this branch does not edit it).
"""
from shared.passwords import hash_password, password_problems  # noqa: F401
