"""Operator commands: ``python -m services.ops init`` prepares a fresh installation.

Flask-Migrate's CLI finds ``create_app`` here: ``flask --app services.ops db migrate -m "..."``.
"""
from __future__ import annotations

from flask import Flask

from shared.config import Config


def create_app() -> Flask:
    """For Flask-Migrate's CLI: the database app with the migrations registered."""
    from services.ops.init import migration_app

    return migration_app(Config())
