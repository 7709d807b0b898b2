"""The auth service against the real PostgreSQL: accounts, tokens, revocation, API keys, roles."""
from __future__ import annotations

import uuid

import pytest

from tests.conftest import STRONG_PASSWORD


def register(auth_client, **overrides):
    name = f"u{uuid.uuid4().hex[:10]}"
    body = {"username": name, "email": f"{name}@example.com", "password": STRONG_PASSWORD, **overrides}
    return auth_client.post("/auth/v1/register", json=body), body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_register_returns_the_user_without_secrets(auth_client):
    reply, body = register(auth_client, phone="+989123456789")
    assert reply.status_code == 201
    assert reply.json["username"] == body["username"]
    assert reply.json["phone"] == "+989123456789"
    assert reply.json["role"] == "user"
    assert not {"password", "password_hash"} & set(reply.json)


@pytest.mark.parametrize("password, problem", [
    ("short1", "at least 10"), ("onlyletterspassword", "letters and digits"), ("1234567890123", "letters and digits"),
])
def test_weak_passwords_are_refused_with_the_rule(auth_client, password, problem):
    reply, _ = register(auth_client, password=password)
    assert reply.status_code == 400
    assert problem in reply.json["message"]


def test_a_password_containing_the_username_is_refused(auth_client):
    reply, _ = register(auth_client, username="robertsmith", email="rs@example.com", password="robertsmith99")
    assert reply.status_code == 400


def test_duplicate_username_or_email_is_a_conflict(auth_client):
    first, body = register(auth_client)
    assert first.status_code == 201
    again, _ = register(auth_client, username=body["username"])
    assert again.status_code == 409
    same_email, _ = register(auth_client, email=body["email"])
    assert same_email.status_code == 409


def test_registering_with_extra_fields_is_refused(auth_client):
    reply, _ = register(auth_client, role="admin")
    assert reply.status_code == 422
    assert "role" in reply.json["errors"]["json"]


@pytest.mark.parametrize("login_field", ["username", "email", "login"])
def test_login_by_username_or_email_gives_a_bearer_pair(auth_client, login_field):
    _, body = register(auth_client)
    name = body["email"] if login_field == "email" else body["username"]
    reply = auth_client.post("/auth/v1/login", json={login_field: name, "password": STRONG_PASSWORD})
    assert reply.status_code == 200
    assert reply.json["token_type"] == "bearer"
    assert reply.json["expires_in"] == 15 * 60
    assert reply.json["access_token"] != reply.json["refresh_token"]


def test_login_accepts_the_oauth2_password_form(auth_client):
    _, body = register(auth_client)
    reply = auth_client.post("/auth/v1/login", data={
        "grant_type": "password", "username": body["username"], "password": STRONG_PASSWORD})
    assert reply.status_code == 200
    me = auth_client.get("/auth/v1/me", headers=bearer(reply.json["access_token"]))
    assert me.json["username"] == body["username"]


def test_access_token_is_rs256_with_a_string_subject_and_kid(auth_client):
    import jwt as pyjwt
    _, body = register(auth_client)
    token = auth_client.post("/auth/v1/login", json={"username": body["username"],
                                                     "password": STRONG_PASSWORD}).json["access_token"]
    header = pyjwt.get_unverified_header(token)
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "RS256"
    jwks = auth_client.get("/.well-known/jwks.json").json
    assert header["kid"] == jwks["keys"][0]["kid"]
    assert isinstance(claims["sub"], str) and claims["type"] == "access"
    key = pyjwt.PyJWK(jwks["keys"][0]).key
    assert pyjwt.decode(token, key, algorithms=["RS256"], issuer="conveyor")["sub"] == claims["sub"]


def test_wrong_password_and_unknown_user_get_the_same_answer(auth_client):
    _, body = register(auth_client)
    wrong = auth_client.post("/auth/v1/login", json={"username": body["username"], "password": "Wrong-pass-123"})
    unknown = auth_client.post("/auth/v1/login", json={"username": "nobody-" + body["username"],
                                                       "password": "Wrong-pass-123"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json


def test_login_brute_force_is_rate_limited(auth_client):
    """HARDENING S4."""
    _, body = register(auth_client)
    codes = [auth_client.post("/auth/v1/login", json={"username": body["username"], "password": f"guess-{i}xx"}
                              ).status_code for i in range(10)]
    assert codes[:8] == [401] * 8
    assert codes[8:] == [429, 429]
    # Even the right password is refused until the window passes.
    right = auth_client.post("/auth/v1/login", json={"username": body["username"], "password": STRONG_PASSWORD})
    assert right.status_code == 429
    assert "Retry-After" in right.headers


def test_refresh_rotates_and_the_old_refresh_token_dies(auth_client, make_user):
    user = make_user()
    first = auth_client.post("/auth/v1/refresh", headers=bearer(user.tokens["refresh_token"]))
    assert first.status_code == 200
    assert auth_client.get("/auth/v1/me", headers=bearer(first.json["access_token"])).status_code == 200
    replay = auth_client.post("/auth/v1/refresh", headers=bearer(user.tokens["refresh_token"]))
    assert replay.status_code == 401


def test_change_password_needs_the_current_one(auth_client, make_user):
    user = make_user()
    reply = auth_client.post("/auth/v1/password", headers=user.headers,
                             json={"current_password": "Not-my-pass-1", "new_password": "Brand-new-pass-7"})
    assert reply.status_code == 403


def test_api_keys_are_shown_once_listed_without_the_key_and_revocable(auth_client, client, make_user):
    user = make_user()
    created = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={"name": "ci"})
    assert created.status_code == 201
    key = created.json["key"]
    assert key.startswith("cvk_") and created.json["prefix"] == key[:12]
    listed = auth_client.get("/auth/v1/api-keys", headers=user.headers).json
    assert [k["id"] for k in listed] == [created.json["id"]]
    assert "key" not in listed[0]
    assert client.get("/api/v1/jobs", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/api/v1/jobs", headers=bearer(key)).status_code == 200
    assert auth_client.get("/auth/v1/me", headers={"X-API-Key": key}).json["id"] == user.id
    assert auth_client.delete(f"/auth/v1/api-keys/{created.json['id']}", headers=user.headers).status_code == 204
    assert client.get("/api/v1/jobs", headers={"X-API-Key": key}).status_code == 401


def test_one_user_cannot_revoke_anothers_api_key(auth_client, two_users):
    alice, bob = two_users
    key = auth_client.post("/auth/v1/api-keys", headers=alice.headers, json={"name": "mine"}).json
    assert auth_client.delete(f"/auth/v1/api-keys/{key['id']}", headers=bob.headers).status_code == 404


def test_admin_lists_users_and_sets_flags(auth_client, client, admin, make_user):
    user = make_user()
    total = auth_client.get("/auth/v1/users?per_page=1", headers=admin.headers).json["total"]
    last_page = auth_client.get(f"/auth/v1/users?per_page=50&page={(total - 1) // 50 + 1}", headers=admin.headers)
    assert last_page.status_code == 200
    assert user.id in [u["id"] for u in last_page.json["items"]], "users are listed oldest first"
    reply = auth_client.patch(f"/auth/v1/users/{user.id}", headers=admin.headers, json={"may_submit": False})
    assert reply.status_code == 200 and reply.json["may_submit"] is False
    submit = client.post("/api/v1/jobs/translate", headers=user.headers,
                         json={"text": "hello", "source_lang": "en", "target_lang": "es"})
    assert submit.status_code == 403


def test_deactivating_a_user_voids_its_tokens_and_login(auth_client, client, admin, make_user):
    user = make_user()
    assert auth_client.patch(f"/auth/v1/users/{user.id}", headers=admin.headers,
                             json={"is_active": False}).status_code == 200
    assert client.get("/api/v1/jobs", headers=user.headers).status_code == 401
    login = auth_client.post("/auth/v1/login", json={"username": user.username, "password": user.password})
    assert login.status_code == 401


def test_admin_can_promote_a_user(auth_client, admin, make_user):
    user = make_user()
    reply = auth_client.patch(f"/auth/v1/users/{user.id}", headers=admin.headers, json={"role": "admin"})
    assert reply.json["role"] == "admin"
    assert auth_client.patch(f"/auth/v1/users/{user.id}", headers=admin.headers,
                             json={"role": "root"}).status_code == 422
