"""HARDENING S14: every documented operation, fuzzed from its document, never answers 5xx, and answers
what its document says: a documented status code, the documented content type, headers and body schema.

The documents: the public /openapi.json (the OpenAI and LibreTranslate faces included) and
/auth/openapi.json, and the workers' /internal/openapi.json. Every kind has a worker's registration (no
worker runs), so a submit reaches its kind's checks; the faces wait half a second for their jobs and then
answer their documented 504. The five seed surfaces have no OpenAPI document (they keep their seeds'
contracts, checked line by line in tests/compat).
"""
from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.usefixtures("translate_pairs_registered", "file_kinds_registered", "short_face_waits")


@pytest.fixture(scope="module")
def short_face_waits(app):
    """The faces answer once their jobs ended or their wait ran out: here after half a second (504)."""
    names = ("OPENAI_AUDIO_WAIT_SECONDS", "LIBRETRANSLATE_WAIT_SECONDS")
    before = {name: app.config[name] for name in names}
    app.config.update({name: 0.5 for name in names})
    yield
    app.config.update(before)


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
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


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


def no_undocumented_server_error(ctx, response, case) -> None:
    """A 5xx only where the operation documents it (a face's 504 when its jobs did not end in time)."""
    documented = case.operation.definition.raw.get("responses", {})
    if response.status_code >= 500 and str(response.status_code) not in documented:
        raise AssertionError(f"{case.method} {case.path} answered {response.status_code}: {response.text[:300]}")


# Every answer is checked against the operation's document, not only for a 5xx.
CHECKS = [no_undocumented_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


def _as_documented(case, headers) -> None:
    case.call_and_validate(headers=headers, checks=CHECKS)


# One test fuzzes every public operation (some fifty, the faces' half-second waits among them): more than
# pytest.ini's 300 s for one test on a loaded machine.
@pytest.mark.timeout(1200)
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
    assert "/v1/audio/transcriptions" in public and "/translate" in public  # the faces are fuzzed too


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
