"""The Postman collections in docs/postman are current, name only live routes, and can run in order.

tests/e2e/test_postman_newman.py runs them in newman against a live stack; these checks say early,
without a stack, what would make such a run fail or pass without testing anything.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scripts import make_postman

ROOT = Path(__file__).resolve().parents[2]
POSTMAN = ROOT / "docs" / "postman"
# What the runner sets (README, Postman section); everything else must be captured by an earlier request.
RUNNER_VARIABLES = {"baseUrl", "username", "password", "email", "adminUsername", "adminPassword", "adminToken",
                    "workerToken"}
VARIABLE = re.compile(r"\{\{#?([A-Za-z]+)\}\}")
# These faces answer when their job has ended (their clients expect the result in the reply): no polling.
ANSWER_WHEN_DONE = {"openai-audio.postman_collection.json", "libretranslate.postman_collection.json"}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def apps(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("CONVEYOR_DATA_DIR", str(tmp_path_factory.mktemp("postman")))
    return make_postman.build_apps()


@pytest.fixture(scope="module")
def generated():
    return make_postman.collections()


@pytest.fixture(scope="module")
def routes(apps):
    table = []
    for app in apps:
        for rule in app.url_map.iter_rules():
            pattern = re.sub(r"<(?:[a-z]+:)?[A-Za-z_]+>", "[^/]+", rule.rule)
            table.append((re.compile(f"^{pattern}$"), rule.methods))
    return table


def requests_of(items):
    return list(make_postman.requests_of(items))


def script(item, listen="test"):
    return "\n".join(line for event in item.get("event", []) if event["listen"] == listen
                     for line in event["script"]["exec"])


def test_the_committed_collections_are_what_make_postman_generates(generated):
    committed = {path.name for path in POSTMAN.glob("*.postman_collection.json")}
    assert committed == set(generated), "run `make postman` (a collection was added or removed)"
    for filename, collection in generated.items():
        on_disk = json.loads((POSTMAN / filename).read_text())
        assert on_disk == json.loads(json.dumps(collection)), f"run `make postman` ({filename} is stale)"


def test_every_request_names_a_live_route_and_keeps_its_trailing_slash(generated, routes):
    checked = 0
    for filename, collection in generated.items():
        assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
        for item in requests_of(collection["item"]):
            url = item["request"]["url"]
            assert not re.search(r"/:[A-Za-z_]", url["raw"]), (filename, url["raw"])  # a literal :param
            assert url["raw"].split("?")[0] == "{{baseUrl}}/" + "/".join(url["path"]), url["raw"]
            # Postman rebuilds the URL from the path array: a trailing slash is a final "" there.
            path = "/" + "/".join("x" if VARIABLE.fullmatch(part) else part for part in url["path"])
            method = item["request"]["method"]
            assert any(pattern.match(path) and method in methods for pattern, methods in routes), (filename, method,
                                                                                                  path)
            checked += 1
    assert checked > 80
    translate = generated["compat-translate.postman_collection.json"]
    slashed = [item["request"]["url"] for item in requests_of(translate["item"])
               if item["request"]["url"]["raw"].startswith("{{baseUrl}}/compat/")]
    assert len(slashed) >= 6 and all(url["raw"].endswith("/") and url["path"][-1] == "" for url in slashed)


def test_every_request_asserts_its_status_and_names_are_unique(generated):
    for filename, collection in generated.items():
        items = requests_of(collection["item"])
        names = [item["name"] for item in items]
        # pm.execution.setNextRequest goes by name: a repeated name would jump to the wrong request.
        assert len(names) == len(set(names)), filename
        for item in items:
            tests = script(item)
            assert re.search(r"pm\.test\('status is (\d+|one of [\d, ]+)'", tests), (filename, item["name"])
            assert "pm.response.to.have.status(" in tests or "to.be.oneOf([" in tests, (filename, item["name"])
        asserting = [item for item in items if checks_beyond_status(script(item))]
        assert len(asserting) >= len(items) * 2 // 3, f"{filename}: most requests must check fields too"


def checks_beyond_status(tests: str) -> int:
    return len(re.findall(r"pm\.test\(", tests)) - 1


def test_every_variable_is_set_by_the_runner_or_captured_before_it_is_used(generated):
    for filename, collection in generated.items():
        captured: set[str] = set()
        collection_auth = json.dumps(collection["auth"])
        for item in requests_of(collection["item"]):
            request = item["request"]
            used = set(VARIABLE.findall(json.dumps(request["url"]) + json.dumps(request.get("body", {}))
                                        + json.dumps(request.get("auth") or collection_auth)))
            used.discard("pollCount")
            missing = used - RUNNER_VARIABLES - captured
            assert not missing, f"{filename}: {item['name']!r} uses {missing} before a request sets it"
            captured |= set(re.findall(r"collectionVariables\.set\('([A-Za-z]+)'", script(item)))
        declared = {variable["key"] for variable in collection["variable"]}
        assert captured <= declared, filename


def test_login_comes_first_and_logout_last(generated):
    for filename, collection in generated.items():
        items = requests_of(collection["item"])
        paths = [item["request"]["url"]["raw"] for item in items]
        logins = [i for i, item in enumerate(items) if "collectionVariables.set('token'" in script(item)]
        assert logins, f"{filename} never stores the token"
        assert all(item["request"].get("auth") for item in items[:logins[0]]), \
            f"{filename}: a request before the login uses the token"
        logout = max(i for i, path in enumerate(paths) if path.endswith("/auth/v1/logout"))
        assert logout == len(items) - 2 and items[-1]["request"]["method"] == "GET", filename
        assert "status is 401" in script(items[-1]), f"{filename}: the last request shows the token is dead"


def test_jobs_are_polled_with_a_bounded_wait(generated):
    for filename, collection in generated.items():
        polls = [item for item in requests_of(collection["item"]) if "setNextRequest" in script(item)]
        assert bool(polls) == (filename not in ANSWER_WHEN_DONE), f"{filename}: polls or not"
        for item in polls:
            assert "pm.execution.setNextRequest(pm.info.requestName)" in script(item)
            assert f"polls < {make_postman.MAX_POLLS}" in script(item)
            assert "setTimeout" in script(item, "prerequest")


def test_sample_files_exist_and_are_small(generated):
    sources = {part["src"] for collection in generated.values() for item in requests_of(collection["item"])
               for part in item["request"].get("body", {}).get("formdata", []) if part["type"] == "file"}
    sources |= {item["request"]["body"]["file"]["src"] for collection in generated.values()
                for item in requests_of(collection["item"]) if item["request"].get("body", {}).get("mode") == "file"}
    assert sources == {"samples/hello.mp3", "samples/lecture.mp3", "samples/shapes.png"}
    for source in sources:
        assert 0 < (POSTMAN / source).stat().st_size < 20_000, source


# The collection that runs each tag's operations of the public documents (untagged ones: the native one).
COLLECTION_OF_TAG = {"OpenAI": "openai-audio.postman_collection.json",
                     "LibreTranslate": "libretranslate.postman_collection.json"}
NATIVE = "conveyor.postman_collection.json"
# The faces' documented operations their collections do not send yet, and why.
FACES_NOT_SENT = {
    ("POST", "/v1/audio/translations"): "needs a multilingual Whisper model, which a test stack may lack",
    ("GET", "/frontend/settings"): "LibreTranslate's web page settings; no client of the API reads them",
    ("POST", "/translate_file"): "needs a .txt sample beside the three the collections share",
    ("GET", "/download_file/x/x"): "follows /translate_file",
}


def _documented_operations(apps) -> dict[str, set[tuple[str, str]]]:
    """The user-facing operations of both public documents, by the collection that must send them."""
    api, auth = apps
    operations: dict[str, set[tuple[str, str]]] = {}
    for spec in (api.test_client().get("/openapi.json").json, auth.test_client().get("/auth/openapi.json").json):
        for path, methods in spec["paths"].items():
            assert not path.startswith("/internal/"), "the workers' API has its own document"
            for method, operation in methods.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    collection = COLLECTION_OF_TAG.get(operation["tags"][0], NATIVE)
                    operations.setdefault(collection, set()).add((method.upper(), re.sub(r"\{[A-Za-z_]+\}", "x", path)))
    return operations


def _sent(collection: dict) -> set[tuple[str, str]]:
    return {(item["request"]["method"], "/" + "/".join("x" if VARIABLE.fullmatch(part) else part
                                                        for part in item["request"]["url"]["path"]))
            for item in requests_of(collection["item"])}


def _covered(operation: tuple[str, str], sent: set[tuple[str, str]]) -> bool:
    method, path = operation
    pattern = re.compile("^" + path.replace("/x", "/[^/]+") + "$")
    return any(method == verb and pattern.match(sent_path) for verb, sent_path in sent)


def test_the_native_collection_covers_every_user_facing_operation(generated, apps):
    operations = _documented_operations(apps)[NATIVE]
    sent = _sent(generated[NATIVE])
    skipped = {(method, re.sub(r"\{[A-Za-z_]+\}", "x", path)) for method, path in make_postman.NATIVE_SKIPPED}
    assert skipped <= operations, "NATIVE_SKIPPED names an operation that no longer exists"
    assert not any(_covered(operation, sent) for operation in skipped), "an operation is both sent and skipped"
    missing = {operation for operation in operations - skipped if not _covered(operation, sent)}
    assert not missing, f"not in the native collection (add it, or to NATIVE_SKIPPED with a reason): {missing}"


@pytest.mark.parametrize("tag", sorted(COLLECTION_OF_TAG))
def test_each_face_collection_covers_the_operations_of_its_tag(generated, apps, tag):
    collection = COLLECTION_OF_TAG[tag]
    operations = _documented_operations(apps)[collection]
    assert len(operations) >= 4
    sent = _sent(generated[collection])
    assert {operation for operation in operations if not _covered(operation, sent)} == \
        {operation for operation in operations if operation in FACES_NOT_SENT}
