"""The API service: jobs, files, progress, results, catalogs and the internal worker API."""
from __future__ import annotations

import time
from typing import Optional

import pika
from flask import Flask, current_app

from shared.api_docs import operators_api
from shared.config import Config
from shared.principal import configure_jwt
from shared.service_app import check_database, configure_service, health_blueprint

API_DESCRIPTION = (
    "Jobs of four kinds: speech to text (asr), image analysis (vision), translation (translate) and media "
    "conversion (convert). Click **Authorize** and log in with your username and password (the OAuth2 "
    "password flow), or paste an access token or an API key; then **Try it out** on a submit, and follow "
    "the job at GET /api/v1/jobs/{job_id}. Accounts, tokens and API keys: [/auth/docs](/auth/docs).")
OPERATORS_DESCRIPTION = (
    "What workers call with the worker secret. The gateway does not route /internal/: read this "
    "document on the API service's own port.")
_BROKER_CHECK_TTL = 5.0
_broker_checked_at = 0.0


def check_broker() -> None:
    """Open and close an AMQP connection (at most every few seconds; readiness probes are frequent)."""
    global _broker_checked_at
    if time.monotonic() - _broker_checked_at < _BROKER_CHECK_TTL:
        return
    params = pika.URLParameters(current_app.config["AMQP_URL"])
    params.socket_timeout = 2
    params.connection_attempts = 1
    pika.BlockingConnection(params).close()
    _broker_checked_at = time.monotonic()


def check_storage() -> None:
    """Files can be stored: the data directory is writable, or the S3 bucket exists."""
    from services.api.jobs import storage
    storage().check_ready()


def create_app(config: Optional[Config] = None) -> Flask:
    """Build the API service (it verifies tokens with the public key only)."""
    from services.api import (
        catalogs,
        console,
        internal,
        metrics,
        pipeline_views,
        translate_packages,
        views,
        webhook_views,
    )
    from services.api.compat import register_surfaces
    from services.api.compat.docs import document_faces, seed_surfaces_section
    from services.api.kinds import SPECS

    config = config or Config()
    if not config.JWT_PUBLIC_KEY_FILE.exists():
        raise RuntimeError(f"no token verification key at {config.JWT_PUBLIC_KEY_FILE}: run "
                           "`python -m services.ops init` (make up does) or set CONVEYOR_JWT_PUBLIC_KEY_FILE")
    app = Flask(__name__)
    api = configure_service(app, config, title="Conveyor API", docs_prefix="/", description=API_DESCRIPTION
                            + "\n\n" + seed_surfaces_section())
    operators = operators_api(app, "Conveyor internal worker API", "/internal", OPERATORS_DESCRIPTION)
    configure_jwt(app, config, sign=False)
    for spec in SPECS.values():
        api.spec.components.schema(f"{spec.name.capitalize()}Params", schema=spec.params_schema)
    api.register_blueprint(views.bp)
    operators.register_blueprint(internal.bp)
    api.register_blueprint(catalogs.bp)
    api.register_blueprint(webhook_views.bp)
    api.register_blueprint(pipeline_views.bp)
    api.register_blueprint(translate_packages.bp)
    register_surfaces(app)
    document_faces(app, api)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(health_blueprint({"database": check_database, "broker": check_broker,
                                             "storage": check_storage}))
    return app
