"""HARDENING S14: every documented operation, fuzzed from /openapi.json, never answers 5xx."""
from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.fixture(scope="module")
def auth_schema(auth_app):
    return schemathesis.openapi.from_wsgi("/auth/openapi.json", auth_app)


api = schemathesis.pytest.from_fixture("api_schema")
auth = schemathesis.pytest.from_fixture("auth_schema")
# Derandomized: the same cases every run, so CI is repeatable; raise max_examples to dig deeper.
FUZZ = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _no_5xx(case, headers) -> None:
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])


@api.parametrize()
@FUZZ
def test_no_api_operation_answers_5xx(case, fuzz_headers):
    _no_5xx(case, fuzz_headers)


@auth.parametrize()
@FUZZ
def test_no_auth_operation_answers_5xx(case, fuzz_headers):
    _no_5xx(case, fuzz_headers)


@pytest.fixture(scope="module")
def fuzz_headers(auth_app, config):
    """A user's token, and the worker secret so the internal API is fuzzed past its gate too."""
    client = auth_app.test_client()
    name = f"fuzz{uuid.uuid4().hex[:8]}"
    client.post("/auth/v1/register", json={"username": name, "email": f"{name}@example.com",
                                           "password": STRONG_PASSWORD})
    token = client.post("/auth/v1/login", json={"username": name, "password": STRONG_PASSWORD}).json
    return {"Authorization": f"Bearer {token['access_token']}", "X-Worker-Token": config.WORKER_TOKEN}
