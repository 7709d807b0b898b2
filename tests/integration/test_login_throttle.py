"""HARDENING S4/S17: one throttle per account and per address, shared by every login route, API keys
and the seed secrets, with an exponential delay instead of a lockout (shared.credential_throttle).

The test settings (tests/conftest.py) give 8 free failures per account from one address, 16 per
account from anywhere, and a 60 s base delay; each test calls from addresses of its own.
"""
from __future__ import annotations

import uuid

import pytest

from tests.clock import HandClock
from tests.conftest import STRONG_PASSWORD

FREE = 8
ACCOUNT_FREE = 16


def _json(path, name_field):
    return lambda client, name, password, env: client.post(
        path, json={name_field: name, "password": password}, environ_base=env)


def _form(path):
    return lambda client, name, password, env: client.post(
        path, data={"grant_type": "password", "username": name, "password": password}, environ_base=env)


# route name -> (send, status of a wrong password)
ROUTES = {
    "native": (_json("/auth/v1/login", "login"), 401),
    "native-oauth2-form": (_form("/auth/v1/login"), 401),
    "nevisa": (_json("/compat/nevisa/account/login", "username_or_phone_or_email"), 401),
    "primitives": (_form("/compat/primitives/oauth/login"), 422),
    "translate": (_json("/compat/translate/api/token/", "username"), 401),
    "lecture": (_json("/compat/lecture/auth/login", "username"), 401),
    "converter": (_json("/compat/converter/api/auth/login", "username"), 401),
}


def _shape_of_429(route: str, body: dict) -> bool:
    """Each surface answers 429 in its own seed's error shape."""
    if route.startswith("native"):
        return body["code"] == 429 and "try again in" in body["message"]
    if route in ("nevisa", "translate"):  # Django REST framework's throttled body
        return set(body) == {"detail"} and body["detail"].startswith("Request was throttled.")
    if route in ("primitives", "lecture"):  # FastAPI's
        return set(body) == {"detail"} and "try again in" in body["detail"]
    return set(body) == {"message"} and "Demasiados intentos" in body["message"]  # converter


def address() -> dict:
    """A client address of this test's own, so that counts of other tests stay out of the way."""
    return {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"}


@pytest.fixture
def account(auth_client):
    """A user with a username, an e-mail address and a phone number."""
    name = f"t{uuid.uuid4().hex[:12]}"
    phone = "+1" + str(uuid.uuid4().int)[:10]
    reply = auth_client.post("/auth/v1/register", json={
        "username": name, "email": f"{name}@example.com", "phone": phone, "password": STRONG_PASSWORD})
    assert reply.status_code == 201, reply.json
    return {"id": reply.json["id"], "names": (name, f"{name.upper()}@EXAMPLE.COM", phone)}


@pytest.fixture
def clock(monkeypatch):
    import shared.credential_throttle
    fake = HandClock()
    monkeypatch.setattr(shared.credential_throttle, "utcnow", fake)
    return fake


@pytest.fixture
def password_checks(monkeypatch):
    """How many password hashes the login service computed."""
    from services.auth import services
    calls = []
    real = services.verify_password

    def counting(stored, password):
        calls.append(password)
        return real(stored, password)

    monkeypatch.setattr(services, "verify_password", counting)
    return calls


def test_failures_add_up_across_every_login_route_and_every_name_of_the_account(
        auth_client, account, password_checks):
    env = address()
    routes = list(ROUTES)
    for attempt in range(FREE):
        route = routes[attempt % len(routes)]
        send, wrong_status = ROUTES[route]
        reply = send(auth_client, account["names"][attempt % 3], f"Wrong-guess-{attempt}", env)
        assert reply.status_code == wrong_status, (route, reply.json)
    checked = len(password_checks)
    for route, (send, _) in ROUTES.items():
        for name in account["names"]:
            reply = send(auth_client, name, STRONG_PASSWORD, env)  # even the right password waits
            assert reply.status_code == 429, (route, name, reply.json)
            assert 0 < int(reply.headers["Retry-After"]) <= 60
            assert _shape_of_429(route, reply.json), (route, reply.json)
    assert len(password_checks) == checked, "a throttled attempt must not compute a password hash"


def test_each_further_failure_doubles_the_delay_and_a_success_clears_it(auth_client, auth_app, account,
                                                                        clock, monkeypatch):
    monkeypatch.setitem(auth_app.config, "LOGIN_DELAY_SECONDS", 10)
    send = ROUTES["native"][0]
    name, env = account["names"][0], address()
    for attempt in range(FREE):
        assert send(auth_client, name, f"Wrong-guess-{attempt}", env).status_code == 401
    waits = []
    for _ in range(3):
        refused = send(auth_client, name, STRONG_PASSWORD, env)
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(waits[-1] - 1)
        assert send(auth_client, name, STRONG_PASSWORD, env).status_code == 429  # not a second early
        clock.advance(1)
        assert send(auth_client, name, f"Wrong-again-{len(waits)}", env).status_code == 401
    assert waits == [10, 20, 40]
    refused = send(auth_client, name, STRONG_PASSWORD, env)
    assert int(refused.headers["Retry-After"]) == 80
    clock.advance(80)
    assert send(auth_client, name, STRONG_PASSWORD, env).status_code == 200
    # The success cleared the account's count: the free failures are back.
    for attempt in range(FREE):
        assert send(auth_client, name, f"Wrong-later-{attempt}", env).status_code == 401
    assert send(auth_client, name, STRONG_PASSWORD, env).status_code == 429


def test_the_delay_is_capped(auth_client, auth_app, account, clock, monkeypatch):
    monkeypatch.setitem(auth_app.config, "LOGIN_DELAY_SECONDS", 100)
    monkeypatch.setitem(auth_app.config, "LOGIN_DELAY_MAX_SECONDS", 300)
    send = ROUTES["translate"][0]
    name, env = account["names"][1], address()
    waits = []
    for attempt in range(FREE + 4):
        send(auth_client, name, f"Wrong-guess-{attempt}", env)
        if attempt >= FREE - 1:
            waits.append(int(send(auth_client, name, "x", env).headers["Retry-After"]))
            clock.advance(waits[-1])
    assert waits == [100, 200, 300, 300, 300]


def test_the_owner_still_logs_in_from_another_address_after_an_attackers_failures(auth_client, account):
    send = ROUTES["nevisa"][0]
    attacker, owner = address(), address()
    for attempt in range(FREE + 5):
        send(auth_client, account["names"][attempt % 3], f"Wrong-guess-{attempt}", attacker)
    assert send(auth_client, account["names"][0], STRONG_PASSWORD, attacker).status_code == 429
    reply = ROUTES["native"][0](auth_client, account["names"][1], STRONG_PASSWORD, owner)
    assert reply.status_code == 200 and reply.json["access_token"]


def test_guesses_spread_over_many_addresses_still_meet_the_accounts_own_throttle(auth_client, account):
    send = ROUTES["lecture"][0]
    for attempt in range(ACCOUNT_FREE):
        assert send(auth_client, account["names"][0], f"Wrong-guess-{attempt}", address()).status_code == 401
    reply = send(auth_client, account["names"][0], STRONG_PASSWORD, address())
    assert reply.status_code == 429 and "Retry-After" in reply.headers


def test_unknown_names_are_throttled_too_by_their_normalised_form(auth_client):
    name, env = f"nobody-{uuid.uuid4().hex[:8]}", address()
    forms = (name, name.upper(), f"  {name}  ")
    for attempt in range(FREE):
        send, status = ROUTES[list(ROUTES)[attempt % len(ROUTES)]]
        assert send(auth_client, forms[attempt % 3], "Wrong-guess-1", env).status_code == status
    assert ROUTES["converter"][0](auth_client, name.title(), "Wrong-guess-1", env).status_code == 429


def test_an_address_guessing_at_many_accounts_is_throttled(auth_client, auth_app, monkeypatch):
    monkeypatch.setitem(auth_app.config, "LOGIN_FREE_FAILURES_IP", 5)
    env = address()
    for _attempt in range(5):
        reply = ROUTES["primitives"][0](auth_client, f"someone-{uuid.uuid4().hex[:8]}", "Wrong-guess-1", env)
        assert reply.status_code == 422
    reply = ROUTES["native"][0](auth_client, f"someone-{uuid.uuid4().hex[:8]}", "Wrong-guess-1", env)
    assert reply.status_code == 429


def test_a_success_does_not_clear_the_address_count(auth_client, auth_app, account, monkeypatch):
    # Otherwise logging into one's own account between guesses would buy more guesses at others.
    monkeypatch.setitem(auth_app.config, "LOGIN_FREE_FAILURES_IP", 4)
    send, env = ROUTES["native"][0], address()
    for _attempt in range(3):
        assert send(auth_client, f"other-{uuid.uuid4().hex[:8]}", "Wrong-guess-1", env).status_code == 401
    assert send(auth_client, account["names"][0], STRONG_PASSWORD, env).status_code == 200
    assert send(auth_client, f"other-{uuid.uuid4().hex[:8]}", "Wrong-guess-1", env).status_code == 401
    assert send(auth_client, account["names"][0], STRONG_PASSWORD, env).status_code == 429


def test_wrong_api_keys_are_throttled_per_address(client, app, make_user, auth_client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FREE_FAILURES_IP", 3)
    user = make_user()
    key = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={"name": "ci"}).json["key"]
    env = address()
    for attempt in range(3):
        reply = client.get("/api/v1/jobs", headers={"X-API-Key": f"cvk_wrong{attempt}"}, environ_base=env)
        assert reply.status_code == 401
    refused = client.get("/api/v1/jobs", headers={"X-API-Key": key}, environ_base=env)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert client.get("/api/v1/jobs", headers={"X-API-Key": key}, environ_base=address()).status_code == 200


def test_wrong_api_keys_and_wrong_passwords_share_the_address_count(client, app, auth_client, auth_app,
                                                                      monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FREE_FAILURES_IP", 4)
    monkeypatch.setitem(auth_app.config, "LOGIN_FREE_FAILURES_IP", 4)
    env = address()
    for _attempt in range(2):
        assert client.get("/api/v1/jobs", headers={"X-API-Key": "cvk_nope"}, environ_base=env).status_code == 401
        assert ROUTES["native"][0](auth_client, f"x-{uuid.uuid4().hex[:8]}", "Wrong-1", env).status_code == 401
    assert ROUTES["native"][0](auth_client, f"x-{uuid.uuid4().hex[:8]}", "Wrong-1", env).status_code == 429


def test_the_lecture_admin_secret_is_throttled(auth_client, auth_app, account):
    env = address()
    path = f"/compat/lecture/auth/patch?user_id={account['id']}&secret_admin_token="
    for attempt in range(FREE):
        reply = auth_client.patch(path + f"wrong-{attempt}", json={"can_interact": True}, environ_base=env)
        assert reply.status_code == 401
    right = auth_client.patch(path + auth_app.config["ADMIN_TOKEN"], json={"can_interact": True}, environ_base=env)
    assert right.status_code == 429 and "try again in" in right.json["detail"] and right.headers["Retry-After"]
    elsewhere = auth_client.patch(path + auth_app.config["ADMIN_TOKEN"], json={"can_interact": True},
                                  environ_base=address())
    assert elsewhere.status_code == 200 and elsewhere.json["can_interact"] is True


def test_the_lecture_worker_secret_is_throttled(client, app):
    env = address()
    path = "/compat/lecture/worker/transcription_status?secret_worker_token="
    body = {"transcription_id": 0, "state": "processing"}
    for attempt in range(FREE):
        assert client.post(path + f"wrong-{attempt}", json=body, environ_base=env).status_code == 401
    right = client.post(path + app.config["WORKER_TOKEN"], json=body, environ_base=env)
    assert right.status_code == 429 and "try again in" in right.json["detail"] and right.headers["Retry-After"]
    elsewhere = client.post(path + app.config["WORKER_TOKEN"], json=body, environ_base=address())
    assert elsewhere.status_code not in (401, 429)
