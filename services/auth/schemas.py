"""Request and response shapes of the auth service (unknown fields are rejected)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.errors import MAX_PAGE
from shared.principal import KEY_SCOPES

# "$(?!\n)": Python's "$" also matches before a final newline ("alice\n" would pass); the lookahead
# refuses that, and unlike "\Z" it means the same in the OpenAPI document's (ECMAScript) patterns.
USERNAME = validate.Regexp(r"^[A-Za-z0-9_.-]{3,64}$(?!\n)",
                           error="3-64 characters: letters, digits, '_', '.', '-'.")
PHONE = validate.Regexp(r"^\+?[0-9]{6,20}$(?!\n)", error="Digits only, optionally starting with '+'.")


class RegisterSchema(Schema):
    username = fields.String(required=True, validate=USERNAME)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=256))


class LoginSchema(Schema):
    """JSON login; the OAuth2 password form (``grant_type=password``) maps onto it."""

    username = fields.String(load_default=None)
    email = fields.String(load_default=None)
    login = fields.String(load_default=None, metadata={"description": "username, e-mail or phone"})
    password = fields.String(required=True, load_only=True)
    grant_type = fields.String(load_default=None, validate=validate.Equal("password"))
    scope = fields.String(load_default=None)
    client_id = fields.String(load_default=None)
    client_secret = fields.String(load_default=None)

    @validates_schema
    def _one_login_name(self, data, **kwargs):
        if not (data.get("username") or data.get("email") or data.get("login")):
            raise ValidationError("Give a username, email or login.", "username")


class TokenSchema(Schema):
    access_token = fields.String(dump_only=True)
    refresh_token = fields.String(dump_only=True)
    token_type = fields.String(dump_only=True)
    expires_in = fields.Integer(dump_only=True)


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    public_id = fields.UUID(dump_only=True)
    username = fields.String(dump_only=True)
    email = fields.String(dump_only=True)
    phone = fields.String(dump_only=True)
    role = fields.String(dump_only=True)
    is_active = fields.Boolean(dump_only=True)
    may_submit = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    last_login_at = fields.DateTime(dump_only=True)


class UserUpdateSchema(Schema):
    role = fields.String(validate=validate.OneOf(["user", "admin"]))
    is_active = fields.Boolean()
    may_submit = fields.Boolean()


class UserListArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class UserPageSchema(Schema):
    items = fields.List(fields.Nested(UserSchema), dump_only=True)
    page = fields.Integer(dump_only=True)
    per_page = fields.Integer(dump_only=True)
    total = fields.Integer(dump_only=True)


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True)
    new_password = fields.String(required=True, load_only=True)


class ApiKeyCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    scopes = fields.List(fields.String(validate=validate.OneOf(KEY_SCOPES)), load_default=None,
                         validate=validate.Length(min=1), metadata={
                             "description": "what the key may do (default: jobs:read, jobs:write): jobs:read "
                                            "for GET requests, jobs:write for the others, keys:write to create "
                                            "and revoke keys, admin for administrator routes"})
    expires_at = fields.AwareDateTime(load_default=None, metadata={"description": "when the key stops working"})
    expires_in_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3650),
                                     metadata={"description": "or: how many days from now it works"})

    @validates_schema
    def _one_expiry(self, data, **kwargs):
        if data.get("expires_at") is not None and data.get("expires_in_days") is not None:
            raise ValidationError("Give expires_at or expires_in_days, not both.", "expires_in_days")


class ApiKeySchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(dump_only=True)
    prefix = fields.String(dump_only=True, metadata={"description": "first characters, to recognise a key"})
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(dump_only=True)
    revoked_at = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(dump_only=True)
    scopes = fields.Function(lambda key: key.scope_list, dump_only=True,
                             metadata={"type": "array", "items": {"type": "string"}})


class NewApiKeySchema(ApiKeySchema):
    key = fields.String(dump_only=True, metadata={"description": "shown once; only its hash is kept"})


class JwkSchema(Schema):
    """One RSA public key as a JSON Web Key (RFC 7517, 7518)."""

    kty = fields.String(required=True, metadata={"example": "RSA"})
    use = fields.String(required=True, metadata={"example": "sig"})
    alg = fields.String(required=True, metadata={"example": "RS256"})
    kid = fields.String(required=True, metadata={"description": "The key id that access tokens name in their header"})
    n = fields.String(required=True, metadata={"description": "The modulus, base64url"})
    e = fields.String(required=True, metadata={"description": "The public exponent, base64url"})


class JwksSchema(Schema):
    """The keys that verify access tokens."""

    keys = fields.List(fields.Nested(JwkSchema), required=True)
