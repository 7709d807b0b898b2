"""Webhook settings and redelivery, callable without HTTP (each function is one unit of work)."""
from __future__ import annotations

import uuid
from typing import Any, Optional

from sqlalchemy import select

from shared import webhooks
from shared.db import db, unit_of_work
from shared.models import Job, User, WebhookDelivery


@unit_of_work
def signing_secret(user: User) -> str:
    """The user's webhook signing secret, made on first use."""
    return webhooks.secret_for(user)


@unit_of_work
def rotate_signing_secret(user: User) -> str:
    """Replace the user's signing secret; deliveries sent from now on use the new one."""
    user.webhook_secret = None
    return webhooks.secret_for(user)


def deliveries(job: Job) -> list[WebhookDelivery]:
    """The job's webhook deliveries, oldest first."""
    return db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job.id)
                              .order_by(WebhookDelivery.created_at)).all()


@unit_of_work
def redeliver(job: Job, delivery_id: Any) -> Optional[WebhookDelivery]:
    """Send one of the job's deliveries again now; None when the job has no such delivery."""
    try:
        delivery = db.session.get(WebhookDelivery, uuid.UUID(str(delivery_id)))
    except ValueError:
        return None
    if delivery is None or delivery.job_id != job.id:
        return None
    webhooks.redeliver(delivery)
    return delivery
