"""The Postman collections in docs/postman are current, and name only routes that exist."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scripts import make_postman

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generated(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("CONVEYOR_DATA_DIR", str(tmp_path_factory.mktemp("postman")))
    return make_postman.collections()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def routes():
    api, auth = make_postman.build_apps()
    table = []
    for app in (api, auth):
        for rule in app.url_map.iter_rules():
            pattern = re.sub(r"<(?:[a-z]+:)?[A-Za-z_]+>", "[^/]+", rule.rule)
            table.append((re.compile(f"^{pattern}$"), rule.methods))
    return table


def requests_of(items):
    for item in items:
        if "item" in item:
            yield from requests_of(item["item"])
        else:
            yield item


def test_the_committed_collections_are_what_make_postman_generates(generated):
    for filename, collection in generated.items():
        committed = json.loads((ROOT / "docs/postman" / filename).read_text())
        assert committed == json.loads(json.dumps(collection)), f"run `make postman` ({filename} is stale)"


def test_every_request_names_an_existing_route_and_method(generated, routes):
    checked = 0
    for collection in generated.values():
        assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
        for item in requests_of(collection["item"]):
            path = "/" + "/".join(re.sub(r"^:.*", "x", part) for part in item["request"]["url"]["path"])
            if item["request"]["url"]["raw"].endswith("/"):
                path += "/"
            method = item["request"]["method"]
            assert any(pattern.match(path) and method in methods for pattern, methods in routes), (method, path)
            checked += 1
    assert checked > 40


def test_login_requests_store_the_token_for_the_others(generated):
    for filename, collection in generated.items():
        logins = [item for item in requests_of(collection["item"]) if item.get("event")]
        if not logins:
            assert not list(requests_of(collection["item"])), f"{filename} has requests but no login"
            continue
        script = "\n".join(logins[0]["event"][0]["script"]["exec"])
        assert "pm.collectionVariables.set('token'" in script
        assert "{{token}}" in json.dumps(collection["auth"])
