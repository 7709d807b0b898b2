"""The baseline of the submit benchmark: a bare Flask JSON endpoint, served by the same gunicorn setup."""
from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/echo")
    def echo():
        return jsonify(request.get_json()), 202

    return app
