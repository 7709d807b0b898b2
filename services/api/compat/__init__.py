"""The five seed APIs, each a thin adapter over the native jobs under its own prefix."""
from flask import Flask

from services.api.compat import translate


def register_surfaces(app: Flask) -> None:
    for surface in (translate,):
        app.register_blueprint(surface.bp)
