"""The auth service: users, passwords, tokens, API keys, JWKS."""
from __future__ import annotations

from typing import Optional

from flask import Flask

from shared.config import Config
from shared.keys import ensure_signing_keys
from shared.principal import configure_jwt
from shared.service_app import check_database, configure_service, health_blueprint

DESCRIPTION = (
    "Accounts, tokens and API keys. Register, then click **Authorize** and log in with your username and "
    "password (the OAuth2 password flow posts them to /auth/v1/login) to try the other operations. "
    "The jobs API: [/docs](/docs).")


def create_app(config: Optional[Config] = None) -> Flask:
    """Build the auth service."""
    from services.auth import browser_session
    from services.auth.compat import register_surfaces
    from services.auth.views import bp, wellknown

    config = config or Config()
    app = Flask(__name__)
    api = configure_service(app, config, title="Conveyor auth", docs_prefix="/auth", description=DESCRIPTION)
    ensure_signing_keys(config)
    configure_jwt(app, config, sign=True)
    api.register_blueprint(bp)
    api.register_blueprint(wellknown)
    api.register_blueprint(browser_session.bp)
    register_surfaces(app)
    app.register_blueprint(health_blueprint({"database": check_database}, prefix="/auth"))
    return app
