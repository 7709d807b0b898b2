"""Webhook endpoints: the signing secret, a job's delivery log, redelivery."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services.api import callbacks, jobs
from shared.errors import fail
from shared.principal import current_user, login_required

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1", description="Webhooks (signed job events)")


class SecretSchema(Schema):
    secret = fields.String(dump_only=True, metadata={
        "description": "HMAC-SHA256 key of X-Conveyor-Signature: t=<unix time>,v1=<hex of '<t>.<body>'>"})


class DeliverySchema(Schema):
    id = fields.UUID(dump_only=True)
    event = fields.String(dump_only=True)
    url = fields.String(dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": ["pending", "delivered", "failed"]})
    attempts = fields.Integer(dump_only=True)
    last_status_code = fields.Integer(dump_only=True, allow_none=True)
    last_error = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    next_attempt_at = fields.DateTime(dump_only=True)
    delivered_at = fields.DateTime(dump_only=True, allow_none=True)


def _job_or_404(job_id):
    try:
        return jobs.get_job_for(current_user(), job_id)
    except jobs.NotFound:
        fail(404, "Job not found.")


@bp.route("/webhooks/secret", methods=["GET"])
@login_required
@bp.response(200, SecretSchema)
def get_secret():
    """The caller's webhook signing secret (made on first use)."""
    return {"secret": callbacks.signing_secret(current_user())}


@bp.route("/webhooks/secret/rotate", methods=["POST"])
@login_required
@bp.response(200, SecretSchema)
def rotate_secret():
    """Replace the signing secret; deliveries sent from now on use the new one."""
    return {"secret": callbacks.rotate_signing_secret(current_user())}


@bp.route("/jobs/<job_id>/webhooks", methods=["GET"])
@login_required
@bp.response(200, DeliverySchema(many=True))
def deliveries(job_id):
    """The job's webhook deliveries, oldest first."""
    return callbacks.deliveries(_job_or_404(job_id))


@bp.route("/jobs/<job_id>/webhooks/<delivery_id>/redeliver", methods=["POST"])
@login_required
@bp.response(202, DeliverySchema)
def redeliver(job_id, delivery_id):
    """Send a delivery again (e.g. after the receiver was fixed)."""
    delivery = callbacks.redeliver(_job_or_404(job_id), delivery_id)
    if delivery is None:
        fail(404, "No such delivery.")
    return delivery
