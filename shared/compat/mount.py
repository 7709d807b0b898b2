"""Mounting the compat surfaces: each under its /compat/<name> prefix, one of them also at the root.

Clients with hard-coded paths (``/api/tasks`` rather than ``/compat/primitives/api/tasks``) work when
CONVEYOR_COMPAT_AT_ROOT names their surface. The auth and API services mount the same way.
"""
from __future__ import annotations

from flask import Blueprint, Flask

SURFACES = ("nevisa", "primitives", "translate", "lecture", "converter")


def register_surface_blueprints(app: Flask, blueprints: dict[str, Blueprint]) -> None:
    """Register each surface's blueprint at its prefix, and the configured one at the root too."""
    at_root = app.config.get("COMPAT_AT_ROOT")
    for surface, blueprint in blueprints.items():
        app.register_blueprint(blueprint)
        if surface == at_root:
            app.register_blueprint(blueprint, url_prefix="", name=f"{blueprint.name}_at_root")
