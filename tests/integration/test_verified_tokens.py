"""An access token is verified in full once per process; the claims kept for it never let through a
token that the full check would refuse (tampered, expired), and revocation is still checked per request
(tests/integration/test_submit_guarantees.py: a logout ends a login whose token was seen before)."""
from __future__ import annotations

import time
from datetime import timedelta

import jwt as pyjwt
from flask_jwt_extended import create_access_token
from jwt.api_jws import PyJWS

from shared.principal import jwt as manager
from tests.integration.test_expired_tokens import token_expiring


def test_the_signature_of_a_token_seen_before_is_not_checked_again(client, make_user, monkeypatch):
    user = make_user()  # (logging in verifies the new token once, in the auth service)
    checks = []
    verify = PyJWS._verify_signature
    monkeypatch.setattr(PyJWS, "_verify_signature", lambda self, *args, **kwargs: checks.append(1) or verify(
        self, *args, **kwargs))
    for _ in range(3):
        assert client.get("/api/v1/jobs", headers=user.headers).status_code == 200
    assert len(checks) == 1


def test_a_tampered_copy_of_a_verified_token_is_refused(client, make_user):
    user = make_user()
    assert client.get("/api/v1/jobs", headers=user.headers).status_code == 200
    header, payload, signature = user.token.split(".")
    other_claims = pyjwt.utils.base64url_encode(pyjwt.utils.base64url_decode(payload).replace(
        b'"role":"user"', b'"role":"admin"')).decode()
    assert other_claims != payload
    forged_signature = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    for forged in (f"{header}.{other_claims}.{signature}", f"{header}.{payload}.{forged_signature}"):
        reply = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {forged}"})
        assert reply.status_code == 401, reply.json
    assert client.get("/api/v1/jobs", headers=user.headers).status_code == 200


def test_a_token_that_expires_after_it_was_verified_is_refused_as_expired(client, auth_app, make_user):
    user = make_user()
    token = token_expiring(auth_app, user, create_access_token, timedelta(seconds=2))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/jobs", headers=headers).status_code == 200
    claims = pyjwt.decode(token, options={"verify_signature": False})
    time.sleep(max(0.0, claims["exp"] - time.time()) + 0.1)
    reply = client.get("/api/v1/jobs", headers=headers)
    assert reply.status_code == 401
    assert reply.json["message"].startswith("The access token has expired")
    assert len(manager.verified._claims) <= 4096 and all(key[0] != token for key in manager.verified._claims)
