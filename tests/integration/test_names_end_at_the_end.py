"""Names checked by a pattern end where the text ends: Python's ``$`` also matches before a final
newline, so ``^...$`` let ``alice\\n`` register beside ``alice`` (a look-alike account) and
``out.txt\\n`` name an artifact (see test_internal_api for the artifact)."""
from __future__ import annotations

import uuid

import pytest

from tests.conftest import STRONG_PASSWORD


@pytest.mark.parametrize("field, value, message", [
    ("username", "{name}\n", "3-64 characters: letters, digits, '_', '.', '-'."),
    ("phone", "+989123456789\n", "Digits only, optionally starting with '+'."),
])
def test_registration_refuses_a_value_with_a_trailing_newline(auth_client, field, value, message):
    name = f"nl{uuid.uuid4().hex[:10]}"
    body = {"username": name, "email": f"{name}@example.com", "password": STRONG_PASSWORD,
            field: value.format(name=name)}
    reply = auth_client.post("/auth/v1/register", json=body)
    assert reply.status_code in (400, 422), reply.json
    assert reply.json["errors"]["json"][field] == [message]
