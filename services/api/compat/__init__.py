"""The five seed APIs, each a thin adapter over the native jobs under its own prefix."""
from flask import Flask

from services.api.compat import converter, lecture, libretranslate, nevisa, openai_audio, primitives, translate
from shared.compat.mount import register_surface_blueprints


def register_surfaces(app: Flask) -> None:
    register_surface_blueprints(app, {"translate": translate.bp, "primitives": primitives.bp,
                                      "converter": converter.bp, "nevisa": nevisa.bp, "lecture": lecture.bp})
    # LibreTranslate's and OpenAI's clients use root paths: /translate, /languages, /detect; /v1/....
    app.register_blueprint(libretranslate.bp)
    app.register_blueprint(openai_audio.bp)
