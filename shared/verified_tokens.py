"""flask-jwt-extended's manager, remembering the claims of tokens whose signature it has checked.

A client sends the same access token with every request until it expires. flask-jwt-extended
decodes it three times per request (claims unverified, header, then the RS256 check), and PyJWT
checks each base64 character in Python: about a third of a millisecond per request, a tenth of what
a job submit costs. A token is a string: once its signature and claims were verified under a key,
the same string under the same key verifies the same way until it expires, so its claims are kept
(a bounded, least-recently-used map) and a later request only checks the time again.

Nothing else is skipped: revocation (logout, a deactivated user, a password change) is checked on
every request by the token-in-blocklist callback (shared/principal.py), as before. An expired or
not-yet-valid token, a cookie token (its CSRF value is compared in the full check) and any token
not seen before take flask-jwt-extended's whole path, with its own errors.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from flask import current_app
from flask_jwt_extended import JWTManager

# Enough for every live token of a busy process; an entry is a few hundred bytes.
MAX_TOKENS = 4096


class VerifiedTokens:
    """A bounded map of (token, verification key) to verified claims, safe across threads."""

    def __init__(self, max_size: int = MAX_TOKENS):
        self._claims: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_size = max_size

    def get(self, token: str, key: str, now: float) -> dict[str, Any] | None:
        """A copy of the token's verified claims while it is valid at ``now``, else None."""
        with self._lock:
            claims = self._claims.get((token, key))
            if claims is None:
                return None
            if not claims.get("nbf", 0) <= now < claims.get("exp", 0):
                del self._claims[(token, key)]
                return None
            self._claims.move_to_end((token, key))
        return dict(claims)

    def put(self, token: str, key: str, claims: dict[str, Any]) -> None:
        with self._lock:
            self._claims[(token, key)] = dict(claims)
            self._claims.move_to_end((token, key))
            while len(self._claims) > self._max_size:
                self._claims.popitem(last=False)


class CachingJWTManager(JWTManager):
    """JWTManager whose decoding of a header token reuses the claims verified for the same string."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.verified = VerifiedTokens()

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None, allow_expired: bool = False) -> dict:
        if csrf_value is not None or allow_expired:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        key = current_app.config["JWT_PUBLIC_KEY"]
        claims = self.verified.get(encoded_token, key, time.time())
        if claims is None:
            claims = super()._decode_jwt_from_config(encoded_token)
            if "exp" in claims:  # a token that never expires is checked in full every time
                self.verified.put(encoded_token, key, claims)
        return claims
