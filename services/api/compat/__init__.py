"""The five seed APIs, each a thin adapter over the native jobs under its own prefix."""
from flask import Flask

from services.api.compat import converter, lecture, libretranslate, nevisa, primitives, translate


def register_surfaces(app: Flask) -> None:
    for surface in (translate, primitives, converter, libretranslate, nevisa, lecture):
        app.register_blueprint(surface.bp)
