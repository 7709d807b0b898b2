"""``init``: migrate the database, make development signing keys, and create or reset the first admin.

Run it as ``python -m services.ops init`` before the services start (``make up`` and compose do).
"""
from __future__ import annotations

import logging

from flask import Flask
from flask_migrate import Migrate, upgrade

from shared import models  # noqa: F401  (registers the tables with the metadata)
from shared.accounts import AccountError, bootstrap_admin
from shared.config import REPO_ROOT, Config
from shared.db import database_app, db, transaction
from shared.keys import ensure_signing_keys

LOGGER = logging.getLogger(__name__)
MIGRATIONS_DIR = REPO_ROOT / "migrations"

migrate = Migrate()


def migration_app(config: Config) -> Flask:
    """The database app with Flask-Migrate registered, which ``upgrade`` and ``flask db`` need."""
    app = database_app(config)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    return app


def init(config: Config) -> None:
    """Migrate the database, create development signing keys, and create/reset the first admin."""
    config.check_production()
    ensure_signing_keys(config)
    app = migration_app(config)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        if config.ADMIN_USERNAME and config.ADMIN_PASSWORD:
            try:
                with transaction():
                    bootstrap_admin(config.ADMIN_USERNAME, config.ADMIN_PASSWORD, config.ADMIN_EMAIL)
            except AccountError as exc:
                raise SystemExit(f"CONVEYOR_ADMIN_PASSWORD refused: {exc}") from exc
            LOGGER.info("administrator %s is ready", config.ADMIN_USERNAME)
