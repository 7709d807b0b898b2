"""What the auth and API app factories have in common: settings, database, errors, docs, health."""
from __future__ import annotations

import logging
from typing import Callable

from flask import Blueprint, Flask, jsonify, request
from flask_smorest import Api
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.api_docs import configure_docs
from shared.config import Config
from shared.db import db
from shared.errors import register_error_handlers
from shared.json_guard import refuse_oversized_json
from shared.logging_setup import configure_logging, set_job_context
from shared.security_headers import add_security_headers

LOGGER = logging.getLogger(__name__)

ReadinessCheck = Callable[[], None]


def configure_service(app: Flask, config: Config, title: str, docs_prefix: str, description: str = "") -> Api:
    """Load settings, refuse insecure production settings, attach the database, errors and OpenAPI."""
    config.check_production()
    configure_logging()
    app.config.from_object(config)
    # The gateway in front sets X-Forwarded-For; rate limits and logs need the client's address.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    db.init_app(app)
    register_error_handlers(app)
    app.before_request(_tag_job_requests)
    app.before_request(refuse_oversized_json)
    app.after_request(add_security_headers)
    return configure_docs(app, title, docs_prefix, description)


def _tag_job_requests() -> None:
    """Log lines of a request about a job carry its id (threads serve many requests: always reset)."""
    set_job_context((request.view_args or {}).get("job_id"))


def health_blueprint(checks: dict[str, ReadinessCheck], prefix: str = "") -> Blueprint:
    """``/healthz`` (the process answers) and ``/readyz`` (its dependencies answer)."""
    bp = Blueprint("health", __name__, url_prefix=prefix)

    @bp.route("/healthz")
    def healthz():
        return jsonify(status="ok")

    @bp.route("/readyz")
    def readyz():
        results, ready = {}, True
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure of a dependency means "not ready"
                LOGGER.warning("readiness check %s failed: %s", name, exc.__class__.__name__)
                results[name] = "unavailable"
                ready = False
        return jsonify(status="ok" if ready else "unavailable", checks=results), 200 if ready else 503

    return bp


def check_database() -> None:
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
