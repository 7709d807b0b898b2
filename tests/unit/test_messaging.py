import json

import pytest

from shared.messaging import SCHEMA_VERSION, PoisonMessage, decode_message, encode_message


def test_a_job_message_round_trips():
    body = json.dumps(encode_message("0b1e4c6e-0000-4000-8000-000000000001", "translate", 2)).encode()
    message = decode_message(body, "translate")
    assert message == {"job_id": "0b1e4c6e-0000-4000-8000-000000000001", "kind": "translate",
                       "attempt": 2, "schema_version": SCHEMA_VERSION}


@pytest.mark.parametrize("body", [b"\xff\xfe not json", b"[1, 2]", b'{"kind": "translate"}', b"null"])
def test_garbage_is_poison_without_a_job(body):
    with pytest.raises(PoisonMessage) as caught:
        decode_message(body, "translate")
    assert caught.value.job_id is None


def test_an_unknown_schema_is_poison_that_names_its_job():
    body = json.dumps({"job_id": "abc", "kind": "translate", "schema_version": 99}).encode()
    with pytest.raises(PoisonMessage, match="schema_version") as caught:
        decode_message(body, "translate")
    assert caught.value.job_id == "abc"


def test_a_message_on_the_wrong_queue_is_poison():
    body = json.dumps(encode_message("abc", "asr", 1)).encode()
    with pytest.raises(PoisonMessage, match="kind"):
        decode_message(body, "translate")
