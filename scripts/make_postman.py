"""Generate the Postman collections (``make postman``) into docs/postman/.

- conveyor.postman_collection.json: the native API and auth service, from their OpenAPI documents.
- compat-<surface>.postman_collection.json: each seed surface, from the live route table (the compat
  surfaces are plain blueprints, outside the OpenAPI document).
Every collection's login request stores the token in a collection variable that the others use.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "postman"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

# The compat surfaces: prefix, login route, the JSON field that holds the token, how it is sent.
SURFACES = {
    "nevisa": ("/compat/nevisa", "/account/login", "user.token", "Token"),
    "primitives": ("/compat/primitives", "/oauth/login", "access_token", "Bearer"),
    "translate": ("/compat/translate", "/api/token/", "access", "Bearer"),
    "lecture": ("/compat/lecture", "/auth/login", "access_token", "Bearer"),
    "converter": ("/compat/converter", "/api/auth/login", "token", "Bearer"),
}


def build_apps():
    """The API and auth apps, built with throw-away keys (no database connection is made)."""
    os.environ.setdefault("CONVEYOR_DATA_DIR", tempfile.mkdtemp(prefix="conveyor-postman-"))
    sys.path.insert(0, str(ROOT))
    from services.api import create_app as create_api
    from services.auth import create_app as create_auth
    from shared.config import Config
    from shared.keys import ensure_signing_keys
    ensure_signing_keys(Config())
    return create_api(), create_auth()


def _store_token_script(field: str) -> list[dict[str, Any]]:
    path = "".join(f"[{json.dumps(part)}]" for part in field.split("."))
    return [{"listen": "test", "script": {"type": "text/javascript", "exec": [
        "if (pm.response.code === 200 || pm.response.code === 201) {",
        f"    pm.collectionVariables.set('token', pm.response.json(){path});",
        "}"]}}]


def _request(method: str, path: str, body: Any = None, form: bool = False) -> dict[str, Any]:
    postman_path = re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r":\1", re.sub(r"\{([A-Za-z_]+)\}", r":\1", path))
    request: dict[str, Any] = {"method": method, "header": [],
                               "url": {"raw": "{{base_url}}" + postman_path, "host": ["{{base_url}}"],
                                       "path": [p for p in postman_path.split("/") if p]}}
    if body is not None:
        if form:
            request["body"] = {"mode": "urlencoded", "urlencoded": [{"key": k, "value": v} for k, v in body.items()]}
        else:
            request["body"] = {"mode": "raw", "raw": json.dumps(body, indent=2),
                               "options": {"raw": {"language": "json"}}}
    return request


def _collection(name: str, description: str, items: list[dict[str, Any]], scheme: str) -> dict[str, Any]:
    return {"info": {"name": name, "description": description, "schema": SCHEMA},
            "auth": {"type": "apikey", "apikey": [{"key": "key", "value": "Authorization"},
                                                  {"key": "value", "value": f"{scheme} {{{{token}}}}"},
                                                  {"key": "in", "value": "header"}]},
            "variable": [{"key": "base_url", "value": "http://127.0.0.1:8000"}, {"key": "token", "value": ""}],
            "item": items}


def _example_body(spec: dict[str, Any], operation: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    schema = (content.get("application/json") or {}).get("schema")
    if not schema:
        return None
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return {name: prop.get("example", _placeholder(prop)) for name, prop in schema.get("properties", {}).items()
            if not prop.get("readOnly")} or None


def _placeholder(prop: dict[str, Any]) -> Any:
    kind = prop.get("type")
    if isinstance(kind, list):  # OpenAPI 3.1: ["string", "null"]
        kind = next((k for k in kind if k != "null"), None)
    return {"integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}.get(kind, "")


def native_collection(api_spec: dict[str, Any], auth_spec: dict[str, Any]) -> dict[str, Any]:
    folders = []
    for title, spec in (("auth", auth_spec), ("api", api_spec)):
        items = []
        for path, operations in sorted(spec["paths"].items()):
            if path.startswith("/internal/"):  # the workers' API, not for users
                continue
            for method, operation in operations.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                item = {"name": operation.get("summary") or f"{method.upper()} {path}",
                        "request": _request(method.upper(), path, _example_body(spec, operation))}
                if path == "/auth/v1/login":
                    item["request"]["body"] = {"mode": "raw", "options": {"raw": {"language": "json"}},
                                               "raw": json.dumps({"username": "alice", "password": "correct-horse-42"})}
                    item["event"] = _store_token_script("access_token")
                    item["request"]["auth"] = {"type": "noauth"}
                items.append(item)
        folders.append({"name": title, "item": items})
    return _collection("Conveyor", "The native API (generated from /openapi.json and /auth/openapi.json; "
                       "log in first: the token is stored for the other requests).", folders, "Bearer")


def _rules(apps: Iterable, prefix: str):
    for app in apps:
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.rule.startswith(prefix + "/") or rule.rule == prefix:
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    yield method, rule.rule


def surface_collection(name: str, apps: Iterable) -> dict[str, Any]:
    prefix, login, token_field, scheme = SURFACES[name]
    items = []
    for method, rule in _rules(apps, prefix):
        item = {"name": f"{method} {rule[len(prefix):] or '/'}", "request": _request(method, rule)}
        if rule == prefix + login:
            item["event"] = _store_token_script(token_field)
            item["request"]["auth"] = {"type": "noauth"}
            items.insert(0, item)
        else:
            items.append(item)
    return _collection(f"Conveyor compat: {name}", f"Seed surface under {prefix} (generated from the route "
                       "table; run the login request first).", items, scheme)


def collections() -> dict[str, dict[str, Any]]:
    """Every collection by file name."""
    api, auth = build_apps()
    result = {"conveyor.postman_collection.json": native_collection(
        api.test_client().get("/openapi.json").json, auth.test_client().get("/auth/openapi.json").json)}
    for name in SURFACES:
        result[f"compat-{name}.postman_collection.json"] = surface_collection(name, (api, auth))
    return result


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for filename, collection in collections().items():
        (OUT / filename).write_text(json.dumps(collection, indent=2, ensure_ascii=False) + "\n")
        print(OUT / filename)


if __name__ == "__main__":
    main()
