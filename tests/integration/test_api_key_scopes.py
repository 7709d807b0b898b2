"""API keys: scopes on every route that takes them, expiry, keys that make keys, what the list shows."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

MISSING_JOB = f"/api/v1/jobs/{uuid.uuid4()}/cancel"  # a write: 404 once the key may write


def new_key(auth_client, headers, **body):
    reply = auth_client.post("/auth/v1/api-keys", headers=headers, json={"name": "k", **body})
    assert reply.status_code == 201, reply.json
    return reply.json


def key_header(key: dict) -> dict:
    return {"X-API-Key": key["key"]}


def test_a_key_has_jobs_read_and_write_by_default(client, auth_client, make_user):
    user = make_user()
    key = new_key(auth_client, user.headers)
    assert key["scopes"] == ["jobs:read", "jobs:write"] and key["expires_at"] is None
    assert client.get("/api/v1/jobs", headers=key_header(key)).status_code == 200
    assert client.post(MISSING_JOB, headers=key_header(key)).status_code == 404


def test_a_read_only_key_reads_and_may_not_write(client, auth_client, make_user):
    key = new_key(auth_client, make_user().headers, scopes=["jobs:read"])
    assert client.get("/api/v1/jobs", headers=key_header(key)).status_code == 200
    refused = client.post(MISSING_JOB, headers=key_header(key))
    assert refused.status_code == 403 and "jobs:write" in refused.json["message"]
    # The auth service's routes follow the same rule.
    assert auth_client.get("/auth/v1/me", headers=key_header(key)).status_code == 200


def test_a_write_only_key_writes_and_may_not_read(client, auth_client, make_user):
    key = new_key(auth_client, make_user().headers, scopes=["jobs:write"])
    assert client.post(MISSING_JOB, headers=key_header(key)).status_code == 404
    refused = client.get("/api/v1/jobs", headers=key_header(key))
    assert refused.status_code == 403 and "jobs:read" in refused.json["message"]


@pytest.mark.parametrize("path", ["/api/v1/admin/jobs", "/auth/v1/users"])
def test_admin_routes_need_the_admin_scope_and_an_administrator(client, auth_client, make_user, admin, path):
    http = client if path.startswith("/api") else auth_client
    admin_key = new_key(auth_client, admin.headers, scopes=["admin"])
    assert http.get(path, headers=key_header(admin_key)).status_code == 200
    everyday_key = new_key(auth_client, admin.headers)
    refused = http.get(path, headers=key_header(everyday_key))
    assert refused.status_code == 403 and "'admin' scope" in refused.json["message"]
    # An admin-scoped key does not read jobs unless it also has jobs:read.
    assert client.get("/api/v1/jobs", headers=key_header(admin_key)).status_code == 403
    plain_key = new_key(auth_client, make_user().headers)
    assert http.get(path, headers=key_header(plain_key)).status_code == 403


def test_only_administrators_give_a_key_the_admin_scope(auth_client, make_user):
    reply = auth_client.post("/auth/v1/api-keys", headers=make_user().headers, json={"name": "k", "scopes": ["admin"]})
    assert reply.status_code == 403 and "admin scope" in reply.json["message"]


def test_a_key_may_not_create_or_revoke_keys_without_keys_write(auth_client, make_user):
    user = make_user()
    key = new_key(auth_client, user.headers)
    refused = auth_client.post("/auth/v1/api-keys", headers=key_header(key), json={"name": "child"})
    assert refused.status_code == 403 and "keys:write" in refused.json["message"]
    revoke = auth_client.delete(f"/auth/v1/api-keys/{key['id']}", headers=key_header(key))
    assert revoke.status_code == 403
    assert len(auth_client.get("/auth/v1/api-keys", headers=user.headers).json) == 1


def test_a_keys_write_key_makes_keys_with_no_more_than_its_own_scopes(auth_client, make_user):
    user = make_user()
    parent = new_key(auth_client, user.headers, scopes=["keys:write", "jobs:read"])
    child = new_key(auth_client, key_header(parent), scopes=["jobs:read"])
    assert child["scopes"] == ["jobs:read"]
    wider = auth_client.post("/auth/v1/api-keys", headers=key_header(parent), json={"name": "w"})
    assert wider.status_code == 403  # the default scopes include jobs:write, which the parent lacks
    assert auth_client.delete(f"/auth/v1/api-keys/{child['id']}", headers=key_header(parent)).status_code == 204


def test_an_expired_key_is_refused_with_a_clear_message(client, auth_client, make_user, monkeypatch):
    import shared.principal
    key = new_key(auth_client, make_user().headers, expires_in_days=1)
    expires_at = datetime.fromisoformat(key["expires_at"])
    assert timedelta(hours=23) < expires_at - datetime.now(timezone.utc) <= timedelta(days=1)
    assert client.get("/api/v1/jobs", headers=key_header(key)).status_code == 200
    monkeypatch.setattr(shared.principal, "utcnow", lambda: expires_at + timedelta(seconds=1))
    refused = client.get("/api/v1/jobs", headers=key_header(key))
    assert refused.status_code == 401 and "expired" in refused.json["message"]


def test_expires_at_sets_the_expiry_and_must_be_in_the_future(auth_client, make_user):
    user = make_user()
    when = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    key = new_key(auth_client, user.headers, expires_at=when.isoformat())
    assert datetime.fromisoformat(key["expires_at"]) == when
    past = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={
        "name": "old", "expires_at": (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()})
    assert past.status_code == 400 and "future" in past.json["message"]
    for extreme in ("9999-12-31T23:00:00-14:00", "0001-01-01T00:00:00+14:00"):
        reply = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={"name": "x", "expires_at": extreme})
        assert reply.status_code == 400, extreme
    both = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={
        "name": "both", "expires_at": when.isoformat(), "expires_in_days": 3})
    assert both.status_code == 422


@pytest.mark.parametrize("body", [{"scopes": ["jobs:delete"]}, {"scopes": []}, {"expires_in_days": 0},
                                  {"expires_at": "2030-01-01T00:00:00"}])
def test_bad_key_requests_are_422(auth_client, make_user, body):
    reply = auth_client.post("/auth/v1/api-keys", headers=make_user().headers, json={"name": "k", **body})
    assert reply.status_code == 422


def test_the_key_list_shows_scopes_expiry_and_last_use(client, auth_client, make_user):
    user = make_user()
    key = new_key(auth_client, user.headers, scopes=["jobs:read"], expires_in_days=7)
    listed = auth_client.get("/auth/v1/api-keys", headers=user.headers).json
    assert listed[0]["last_used_at"] is None
    client.get("/api/v1/jobs", headers=key_header(key))
    listed = auth_client.get("/auth/v1/api-keys", headers=user.headers).json
    assert set(listed[0]) == {"id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "expires_at",
                              "scopes"}
    assert listed[0]["scopes"] == ["jobs:read"] and listed[0]["expires_at"] == key["expires_at"]
    assert listed[0]["last_used_at"] is not None
