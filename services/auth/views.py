"""HTTP endpoints of the auth service: parse, call services, dump."""
from __future__ import annotations

from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_jwt_extended import get_current_user, get_jwt, jwt_required
from flask_smorest import Blueprint
from marshmallow import ValidationError
from sqlalchemy import func, select

from services.auth import schemas, services
from shared.credential_throttle import Throttled, client_address
from shared.db import db
from shared.errors import fail
from shared.keys import jwks
from shared.models import ApiKey, User
from shared.principal import admin_required, calling_api_key, current_user, login_required

bp = Blueprint("auth", __name__, url_prefix="/auth/v1", description="Accounts, tokens and API keys")
wellknown = Blueprint("wellknown", __name__, description="Public keys")


def throttled(body: dict, exc: Throttled, status: int = 429):
    """A surface's own 429 body for a throttled credential, with Retry-After."""
    response = jsonify(body)
    response.status_code = status
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def drf_throttled(exc: Throttled) -> dict:
    """Django REST framework's body for a throttled request (the nevisa and translate seeds are DRF)."""
    return {"detail": f"Request was throttled. Expected available in {exc.retry_after} seconds."}


def _account_error(exc: services.AccountError):
    fail(exc.status, str(exc), errors={"json": {exc.field: [str(exc)]}} if exc.field else None)


@bp.route("/register", methods=["POST"])
@bp.doc(security=[])
@bp.arguments(schemas.RegisterSchema)
@bp.response(201, schemas.UserSchema)
def register(data):
    """Create an account (password: 10+ characters with letters and digits)."""
    try:
        user = services.register_user(**data)
    except services.AccountError as exc:
        _account_error(exc)
    return user


@bp.route("/login", methods=["POST"])
@bp.doc(security=[])
@bp.doc(requestBody={"content": {
    "application/json": {"schema": "LoginSchema"},
    "application/x-www-form-urlencoded": {"schema": "LoginSchema"}}})
@bp.response(200, schemas.TokenSchema)
def login():
    """Log in with username, e-mail or phone and password (JSON, or the OAuth2 password form)."""
    raw = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    try:
        data = schemas.LoginSchema().load(raw or {})
    except ValidationError as exc:
        fail(422, "Invalid login request.", errors={"json": exc.messages})
    try:
        signed_in = services.guarded_login(data["login"] or data["username"] or data["email"],
                                           data["password"], client_address())
    except Throttled as exc:
        fail(429, exc.message, headers={"Retry-After": str(exc.retry_after)})
    if signed_in is None:
        fail(401, "Incorrect username or password.")
    return signed_in[1]


@bp.route("/refresh", methods=["POST"])
@jwt_required(refresh=True)
@bp.response(200, schemas.TokenSchema)
def refresh():
    """Exchange a refresh token for a new token pair (the old refresh token becomes void)."""
    return services.refresh_session(get_current_user(), get_jwt()["sid"])


@bp.route("/logout", methods=["POST"])
@jwt_required()
@bp.response(204)
def logout():
    """Revoke this login: its access and refresh tokens stop working."""
    services.end_session(get_jwt()["sid"])


@bp.route("/me", methods=["GET"])
@login_required
@bp.response(200, schemas.UserSchema)
def me():
    """The calling user."""
    return current_user()


@bp.route("/password", methods=["POST"])
@login_required
@bp.arguments(schemas.PasswordChangeSchema)
@bp.response(204)
def change_password(data):
    """Change the password; every token issued before is revoked (log in again)."""
    try:
        services.change_password(current_user(), data["current_password"], data["new_password"])
    except services.AccountError as exc:
        _account_error(exc)


@bp.route("/users", methods=["GET"])
@admin_required
@bp.arguments(schemas.UserListArgs, location="query")
@bp.response(200, schemas.UserPageSchema)
def list_users(args):
    """All users, oldest first (administrators only)."""
    page, per_page = args["page"], args["per_page"]
    users = db.session.scalars(select(User).order_by(User.id).offset((page - 1) * per_page)
                               .limit(per_page)).all()
    total = db.session.scalar(select(func.count()).select_from(User))
    return {"items": users, "page": page, "per_page": per_page, "total": total}


@bp.route("/users/<int:user_id>", methods=["PATCH"])
@admin_required
@bp.arguments(schemas.UserUpdateSchema)
@bp.response(200, schemas.UserSchema)
def update_user(changes, user_id):
    """Set a user's role, active flag or permission to submit jobs (administrators only)."""
    user = db.session.get(User, user_id)
    if user is None:
        fail(404, "No such user.")
    return services.update_user(user, changes)


@bp.route("/api-keys")
class ApiKeys(MethodView):

    @login_required
    @bp.response(200, schemas.ApiKeySchema(many=True))
    def get(self):
        """The caller's API keys (without the keys themselves), with their scopes, expiry and last use."""
        return db.session.scalars(select(ApiKey).where(ApiKey.user_id == current_user().id)
                                  .order_by(ApiKey.created_at)).all()

    @login_required(key_scope="keys:write")
    @bp.arguments(schemas.ApiKeyCreateSchema)
    @bp.response(201, schemas.NewApiKeySchema)
    def post(self, data):
        """Create an API key (through a key: one with keys:write); the key is shown in this response only."""
        try:
            api_key, key = services.create_api_key(current_user(), granting_key=calling_api_key(), **data)
        except services.AccountError as exc:
            _account_error(exc)
        api_key.key = key  # only in this response: the table keeps the hash
        return api_key


@bp.route("/api-keys/<uuid:key_id>", methods=["DELETE"])
@login_required(key_scope="keys:write")
@bp.response(204)
def revoke_api_key(key_id):
    """Revoke one of the caller's API keys."""
    if not services.revoke_api_key(current_user(), key_id):
        fail(404, "No such API key.")


@bp.route("/jwks.json", methods=["GET"])
@bp.doc(security=[])
@bp.response(200, schemas.JwksSchema)
def jwks_document():
    """The public key that verifies access tokens (JWKS)."""
    return jwks(current_app.config["JWT_PUBLIC_KEY"])


@wellknown.route("/.well-known/jwks.json", methods=["GET"])
@wellknown.doc(security=[])
@wellknown.response(200, schemas.JwksSchema)
def well_known_jwks():
    """The public key that verifies access tokens (JWKS), at its well-known path."""
    return jwks(current_app.config["JWT_PUBLIC_KEY"])
