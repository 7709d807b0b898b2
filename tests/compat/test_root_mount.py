"""CONVEYOR_COMPAT_AT_ROOT: a seed surface answers at the root as well as under its prefix."""
from __future__ import annotations

import pytest

from shared.compat.mount import SURFACES

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")


@pytest.fixture
def root_apps(database):
    """Fresh auth and API apps with the translate surface also at the root."""
    from services.api import create_app as create_api
    from services.auth import create_app as create_auth
    from shared.config import Config
    config = Config()
    config.COMPAT_AT_ROOT = "translate"
    return create_api(config), create_auth(config)


def test_the_chosen_surface_answers_at_the_root_and_at_its_prefix(root_apps, make_user):
    api, auth = root_apps
    user = make_user()
    tokens = auth.test_client().post("/api/token/", json={"username": user.username, "password": user.password}).json
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    body = {"source_text": "The cat is black.", "source_lang": "en", "target_lang": "es"}
    at_root = api.test_client().post("/api/v1/translate/", headers=headers, json=body)
    assert at_root.status_code == 201
    status = api.test_client().get(f"/compat/translate/api/v1/translate/{at_root.json['id']}/status/", headers=headers)
    assert status.status_code == 200 and status.json["status"] == "pending"
    missing = api.test_client().get("/api/v1/translate/not-a-job/status/", headers=headers)
    assert missing.json == {"detail": "Not found."}


def test_other_surfaces_stay_under_their_prefix(root_apps):
    paths = {rule.rule for app in root_apps for rule in app.url_map.iter_rules()}
    assert "/api/tasks" not in paths and "/compat/primitives/api/tasks" in paths
    assert "/oauth/login" not in paths


def test_without_the_setting_nothing_is_at_the_root(app, auth_app):
    paths = {rule.rule for flask_app in (app, auth_app) for rule in flask_app.url_map.iter_rules()}
    assert "/api/token/" not in paths and "/api/v1/translate/" not in paths
    assert all(f"/compat/{surface}" in " ".join(paths) for surface in SURFACES)
