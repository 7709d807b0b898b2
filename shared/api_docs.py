"""The OpenAPI documents both services serve, and the Swagger UI page that shows each in a browser.

The page is Swagger UI from the swagger-ui-bundle package (4.15, served by the service itself: nothing
comes from a CDN). It reads OpenAPI 3.0.x only, so the documents are written as 3.0.3. Its
"Authorize" dialog offers the OAuth2 password flow against the auth service's login (the same form an
OAuth2 client posts), a pasted bearer token, or an API key, so "Try it out" runs with a person's
own credentials.
"""
from __future__ import annotations

import functools
import gzip
import mimetypes

import swagger_ui_bundle
from flask import Blueprint, Flask, Response, request, send_from_directory
from flask_smorest import Api

# Swagger UI 4 refuses a 3.1 document ("does not specify a valid version field").
OPENAPI_VERSION = "3.0.3"
# The auth service's login also takes the OAuth2 password form (grant_type=password); through the
# gateway it is on the same origin as both documents.
LOGIN_URL = "/auth/v1/login"
SECURITY_SCHEMES = {
    "oauth2": {"type": "oauth2", "description": "Your username (or e-mail) and password: the page logs "
               "in at " + LOGIN_URL + " and sends the access token it gets.",
               "flows": {"password": {"tokenUrl": LOGIN_URL, "scopes": {}}}},
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "An access token from POST " + LOGIN_URL},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "An API key (cvk_...) from POST /auth/v1/api-keys"},
}
# Any one of them will do.
SECURITY = [{"oauth2": []}, {"bearerAuth": []}, {"apiKey": []}]
OPERATORS_SECURITY_SCHEMES = {"workerToken": {"type": "apiKey", "in": "header", "name": "X-Worker-Token",
                                              "description": "The worker secret (CONVEYOR_WORKER_TOKEN)"}}
SWAGGER_UI_CONFIG = {
    # No badge from validator.swagger.io: the CSP allows no other origin, and nothing leaves the machine.
    "validatorUrl": None,
    # The dialog's token is kept in the page's memory only: a reload forgets it, as a logout should.
    "persistAuthorization": False,
    "displayRequestDuration": True,
}
OPERATORS_PREFIX = "OPERATORS_"
# The page's own script and stylesheet, by exact name; anything else is served as it is.
_COMPRESSED = ("swagger-ui-bundle.js", "swagger-ui.css")


def configure_docs(app: Flask, title: str, docs_prefix: str, description: str = "") -> Api:
    """The public document at ``<docs_prefix>openapi.json`` and its page at ``<docs_prefix>docs``."""
    assets_url = docs_prefix.rstrip("/") + "/docs/assets"
    app.config.update(
        API_TITLE=title,
        API_VERSION="1.0.0",
        OPENAPI_VERSION=OPENAPI_VERSION,
        OPENAPI_URL_PREFIX=docs_prefix,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=assets_url + "/",
        OPENAPI_SWAGGER_UI_CONFIG=SWAGGER_UI_CONFIG,
        API_SPEC_OPTIONS={"info": {"description": description},
                          "components": {"securitySchemes": SECURITY_SCHEMES}, "security": SECURITY},
    )
    app.register_blueprint(_swagger_ui_assets(assets_url))
    return Api(app)


def operators_api(app: Flask, title: str, prefix: str, description: str) -> Api:
    """A second document, ``<prefix>/openapi.json``, for what only operators and workers call.

    It is kept out of the public document; the gateway does not route ``prefix``, so only a machine
    that reaches the service directly reads it.
    """
    app.config.update({
        f"{OPERATORS_PREFIX}API_TITLE": title,
        f"{OPERATORS_PREFIX}API_VERSION": "1.0.0",
        f"{OPERATORS_PREFIX}OPENAPI_VERSION": OPENAPI_VERSION,
        f"{OPERATORS_PREFIX}OPENAPI_URL_PREFIX": prefix,
        f"{OPERATORS_PREFIX}OPENAPI_JSON_PATH": "openapi.json",
        f"{OPERATORS_PREFIX}API_SPEC_OPTIONS": {
            "info": {"description": description},
            "components": {"securitySchemes": OPERATORS_SECURITY_SCHEMES},
            "security": [{"workerToken": []}]},
    })
    return Api(app, config_prefix=OPERATORS_PREFIX)


def _swagger_ui_assets(url_prefix: str) -> Blueprint:
    """Swagger UI's scripts and styles, from the installed package (the page works air-gapped).

    Its template folder holds the page itself: registered before the document's own blueprint, its
    ``swagger_ui.html`` is the one Flask finds.
    """
    assets = Blueprint("docs_assets", __name__, url_prefix=url_prefix, template_folder="docs_templates")
    assets.add_url_rule("/<path:filename>", "asset", _asset)
    return assets


def _asset(filename: str) -> Response:
    """One file of the package; its script and stylesheet gzipped for a browser that takes it.

    They are 1.2 MB as they are and about a third of a megabyte gzipped. They hold no secret, so
    compressing them leaks nothing (unlike API answers, which the gateway leaves uncompressed).
    """
    if filename not in _COMPRESSED or "gzip" not in request.accept_encodings:
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)
    response = Response(_gzipped(filename), mimetype=mimetypes.guess_type(filename)[0])
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.add_etag()
    return response.make_conditional(request)


@functools.lru_cache(maxsize=len(_COMPRESSED))
def _gzipped(filename: str) -> bytes:
    """The file compressed once per process (the package never changes under a running service)."""
    return gzip.compress((swagger_ui_bundle.swagger_ui_path / filename).read_bytes(), compresslevel=9)
