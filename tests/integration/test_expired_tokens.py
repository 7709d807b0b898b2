"""A token that has really expired gets a 401 that says what to do next."""
from __future__ import annotations

from datetime import timedelta

import jwt as pyjwt
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token

from shared.keys import key_id


def token_expiring(auth_app, user, make_token, expires: timedelta) -> str:
    """A token signed by the auth service, with the user's own claims, that expires in ``expires``."""
    claims = pyjwt.decode(user.token, options={"verify_signature": False})
    with auth_app.app_context():
        return make_token(identity=claims["sub"], additional_claims={"sid": claims["sid"], "role": claims["role"]},
                          additional_headers={"kid": key_id(current_app.config["JWT_PUBLIC_KEY"])},
                          expires_delta=expires)


def _expired(auth_app, user, make_token):
    """The user's token that expired a minute ago."""
    return token_expiring(auth_app, user, make_token, timedelta(minutes=-1))


def test_an_expired_access_token_says_to_refresh_or_log_in_again(client, auth_app, make_user):
    user = make_user()
    token = _expired(auth_app, user, create_access_token)
    reply = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"] == "Bearer"
    assert reply.json["message"] == ("The access token has expired; refresh it (POST /auth/v1/refresh) "
                                     "or log in again.")
    # The same user's live token still works: the refusal is about the expiry alone.
    assert client.get("/api/v1/jobs", headers=user.headers).status_code == 200


def test_an_expired_access_token_on_the_auth_service_says_the_same(auth_client, auth_app, make_user):
    user = make_user()
    token = _expired(auth_app, user, create_access_token)
    reply = auth_client.get("/auth/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 401 and "refresh it (POST /auth/v1/refresh)" in reply.json["message"]


def test_an_expired_refresh_token_says_to_log_in_again(auth_client, auth_app, make_user):
    user = make_user()
    token = _expired(auth_app, user, create_refresh_token)
    reply = auth_client.post("/auth/v1/refresh", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 401
    assert reply.json["message"] == "The refresh token has expired; log in again (POST /auth/v1/login)."
