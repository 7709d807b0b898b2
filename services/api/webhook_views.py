"""Webhook endpoints: the signing secret, a job's delivery log, redelivery."""
from __future__ import annotations

import uuid

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from services.api import jobs
from shared import webhooks
from shared.db import db
from shared.errors import fail
from shared.models import WebhookDelivery
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
    secret = webhooks.secret_for(current_user())
    db.session.commit()
    return {"secret": secret}


@bp.route("/webhooks/secret/rotate", methods=["POST"])
@login_required
@bp.response(200, SecretSchema)
def rotate_secret():
    """Replace the signing secret; deliveries sent from now on use the new one."""
    current_user().webhook_secret = None
    secret = webhooks.secret_for(current_user())
    db.session.commit()
    return {"secret": secret}


@bp.route("/jobs/<job_id>/webhooks", methods=["GET"])
@login_required
@bp.response(200, DeliverySchema(many=True))
def deliveries(job_id):
    """The job's webhook deliveries, oldest first."""
    job = _job_or_404(job_id)
    return db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job.id)
                              .order_by(WebhookDelivery.created_at)).all()


@bp.route("/jobs/<job_id>/webhooks/<delivery_id>/redeliver", methods=["POST"])
@login_required
@bp.response(202, DeliverySchema)
def redeliver(job_id, delivery_id):
    """Send a delivery again (e.g. after the receiver was fixed)."""
    job = _job_or_404(job_id)
    try:
        delivery = db.session.get(WebhookDelivery, uuid.UUID(delivery_id))
    except ValueError:
        delivery = None
    if delivery is None or delivery.job_id != job.id:
        fail(404, "No such delivery.")
    webhooks.redeliver(delivery)
    db.session.commit()
    return delivery
