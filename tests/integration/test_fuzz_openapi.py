"""HARDENING S14: every documented operation, fuzzed from its document, never answers 5xx, and answers
what its document says: a documented status code, the documented content type, headers and body schema.

The documents: the public /openapi.json and /auth/openapi.json, and the workers' /internal/openapi.json.
Every kind has a worker's registration (no worker runs), so a submit reaches its kind's checks.
The OpenAI and LibreTranslate faces are left out: each request waits for its jobs to end, and no
worker runs them here (tests/compat drive them with real workers).
"""
from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.usefixtures("translate_pairs_registered", "file_kinds_registered")
FACES = ("OpenAI", "LibreTranslate")


@pytest.fixture
def file_kinds_registered(app):
    """Registrations of an asr, a vision and a convert worker as each reports itself; none runs."""
    from shared.db import db
    from shared.kinds.convert.targets import catalog
    from shared.kinds.vision.catalog import BUILTIN_MODELS
    from shared.models import WorkerRecord
    offered = {
        "asr": {"models": [{"id": "whisper-base", "engine": "whisper", "languages": ["en", "es"],
                            "detects_language": True, "default": True, "size_bytes": 1, "source": "test"}]},
        "vision": {"models": [model.as_dict() for model in BUILTIN_MODELS]},
        "convert": {"targets": catalog()},
    }
    with app.app_context():
        for kind, capabilities in offered.items():
            db.session.merge(WorkerRecord(id=f"{kind}-registered-for-fuzz", kind=kind, capabilities=capabilities))
        db.session.commit()


@pytest.fixture(scope="module")
def api_schema(app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    for tag in FACES:
        schema = schema.exclude(tag=tag)
    return schema


@pytest.fixture(scope="module")
def operators_schema(app):
    return schemathesis.openapi.from_wsgi("/internal/openapi.json", app)


@pytest.fixture(scope="module")
def auth_schema(auth_app):
    return schemathesis.openapi.from_wsgi("/auth/openapi.json", auth_app)


api = schemathesis.pytest.from_fixture("api_schema")
auth = schemathesis.pytest.from_fixture("auth_schema")
operators = schemathesis.pytest.from_fixture("operators_schema")
# Derandomized: the same cases every run, so CI is repeatable; raise max_examples to dig deeper.
FUZZ = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


# Every answer is checked against the operation's document, not only for a 5xx.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def _as_documented(case, headers) -> None:
    case.call_and_validate(headers=headers, checks=CHECKS)


@api.parametrize()
@FUZZ
def test_every_api_operation_answers_as_documented(case, fuzz_headers):
    _as_documented(case, fuzz_headers)


@auth.parametrize()
@FUZZ
def test_every_auth_operation_answers_as_documented(case, fuzz_headers):
    _as_documented(case, fuzz_headers)


@operators.parametrize()
@FUZZ
def test_every_worker_operation_answers_as_documented(case, fuzz_headers):
    _as_documented(case, fuzz_headers)


def test_the_worker_api_is_fuzzed_from_its_own_document(api_schema, operators_schema):
    public = {operation.path for operation in _operations(api_schema)}
    internal = {operation.path for operation in _operations(operators_schema)}
    assert not [path for path in public if path.startswith("/internal/")]
    assert "/internal/v1/jobs/{job_id}/claim" in internal and "/api/v1/jobs/translate" in public
    assert "/v1/audio/transcriptions" not in public and "/translate" not in public  # the faces wait for jobs


def _operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


@pytest.fixture(scope="module")
def fuzz_headers(auth_app, config):
    """A user's token, and the worker secret so the internal API is fuzzed past its gate too."""
    client = auth_app.test_client()
    name = f"fuzz{uuid.uuid4().hex[:8]}"
    client.post("/auth/v1/register", json={"username": name, "email": f"{name}@example.com",
                                           "password": STRONG_PASSWORD})
    token = client.post("/auth/v1/login", json={"username": name, "password": STRONG_PASSWORD}).json
    return {"Authorization": f"Bearer {token['access_token']}", "X-Worker-Token": config.WORKER_TOKEN}
