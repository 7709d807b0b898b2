"""The login routes of the compat surfaces: they issue native tokens in each seed's shape."""
from flask import Flask

from shared.compat.mount import register_surface_blueprints


def register_surfaces(app: Flask) -> None:
    from services.auth.compat import converter, lecture, nevisa, primitives, translate
    register_surface_blueprints(app, {"translate": translate.bp, "primitives": primitives.bp,
                                      "converter": converter.bp, "nevisa": nevisa.bp, "lecture": lecture.bp})
