"""The webhook dispatcher: POSTs due deliveries, signed, and retries them with backoff.

It runs as a thread of the relay process (``python -m services.relay``). The deliveries, their
signature and the callback URL rule are library code in shared.webhooks.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta
from typing import Optional

import requests
from flask import Flask
from sqlalchemy import select

from shared import metrics
from shared.clock import utcnow
from shared.db import db, transaction
from shared.models import Job, WebhookDelivery
from shared.webhooks import CallbackRefused, check_callback_url, secret_for, sign

LOGGER = logging.getLogger(__name__)

BACKOFF_SECONDS = (1, 5, 30, 120, 600, 1800)
TIMEOUT_SECONDS = 5.0
BATCH = 20


class WebhookDispatcher:
    """Sends due deliveries; runs as a thread of the relay process."""

    def __init__(self, app: Flask):
        self.app = app
        self.session = requests.Session()

    def deliver_due(self) -> int:
        """Send the deliveries that are due; return how many were attempted."""
        config = self.app.config
        with transaction():
            rows = db.session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.status == "pending",
                                              WebhookDelivery.next_attempt_at <= utcnow())
                .order_by(WebhookDelivery.next_attempt_at).limit(BATCH).with_for_update(skip_locked=True)).all()
            for delivery in rows:
                self._attempt(delivery, config)
        return len(rows)

    def _attempt(self, delivery: WebhookDelivery, config) -> None:
        job = db.session.get(Job, delivery.job_id)
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        delivery.attempts += 1
        status_code: Optional[int] = None
        try:
            check_callback_url(delivery.url, config["WEBHOOK_ALLOWED_HOSTS"])
            response = self.session.post(delivery.url, data=body, timeout=TIMEOUT_SECONDS, allow_redirects=False,
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "Conveyor-Webhooks/1",
                                                  "X-Conveyor-Event": delivery.event,
                                                  "X-Conveyor-Delivery": str(delivery.id),
                                                  "X-Conveyor-Signature": sign(secret_for(job.user),
                                                                               int(time.time()), body)})
            status_code = response.status_code
            error = None if 200 <= status_code < 300 else f"HTTP {status_code}"
        except CallbackRefused as exc:
            error = str(exc)
        except requests.RequestException as exc:
            error = f"{exc.__class__.__name__}"
        delivery.last_status_code = status_code
        delivery.last_error = error
        if error is None:
            delivery.status = "delivered"
            delivery.delivered_at = utcnow()
            metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
            LOGGER.info("job %s: webhook %s delivered", delivery.job_id, delivery.event)
        elif delivery.attempts >= config["WEBHOOK_MAX_ATTEMPTS"]:
            delivery.status = "failed"
            metrics.WEBHOOK_DELIVERIES.labels("failed").inc()
            LOGGER.warning("job %s: webhook %s failed for good: %s", delivery.job_id, delivery.event, error)
        else:
            wait = BACKOFF_SECONDS[min(delivery.attempts - 1, len(BACKOFF_SECONDS) - 1)]
            delivery.next_attempt_at = utcnow() + timedelta(seconds=wait)
            metrics.WEBHOOK_DELIVERIES.labels("retry").inc()
            LOGGER.info("job %s: webhook %s attempt %d failed (%s); retry in %ss",
                        delivery.job_id, delivery.event, delivery.attempts, error, wait)

    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Deliver until ``stop`` is set, surviving database outages."""
        while not stop.is_set():
            try:
                with self.app.app_context():
                    busy = self.deliver_due()
            except Exception as exc:  # noqa: BLE001 - the dispatcher must outlive database outages
                LOGGER.error("webhook dispatcher error: %s", exc)
                busy = 0
            if not busy:
                stop.wait(poll_seconds)
