"""The web console: the page a person opens at the base URL ``/`` to use Conveyor without a terminal.

Plain HTML, CSS and JavaScript modules committed in static/ and served as they are: no build step,
no package manager and nothing from a CDN, so it works on an air-gapped machine the moment
`make up` starts, and weighs a few tens of KB. The page calls the same public API as any client
(/auth/v1, /api/v1); the browser is signed in by the HttpOnly session cookies of
POST /auth/v1/session (shared/principal.py says why cookies and how CSRF is refused), which also
lets the EventSource of a job's live progress and the <audio>/<img> of its files authenticate.
Navigation is by URL fragment (#/translate, #/jobs/<id>), so one server route serves every view.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory

STATIC = Path(__file__).resolve().parent / "static"

bp = Blueprint("console", __name__, static_folder=str(STATIC), static_url_path="/console")


@bp.route("/")
def index():
    """The console's single page; its views are drawn by static/app.js."""
    response = send_from_directory(STATIC, "index.html", max_age=0)
    # The page names its assets with a version query, so they may be cached; the page itself may not.
    response.headers["Cache-Control"] = "no-cache"
    return response
