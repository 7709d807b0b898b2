"""Run the outbox relay and the webhook dispatcher: ``python -m services.relay``."""
from __future__ import annotations

import logging
import signal
import threading

from services.relay.outbox import OutboxRelay
from services.relay.webhooks import WebhookDispatcher
from shared.config import Config
from shared.db import database_app
from shared.logging_setup import configure_logging
from shared.messaging import Publisher

LOGGER = logging.getLogger(__name__)


def main() -> None:
    """Relay the outbox until SIGTERM or SIGINT, with the webhook dispatcher beside it."""
    configure_logging()
    config = Config()
    config.check_production()
    app = database_app(config)
    relay = OutboxRelay(app, Publisher(config.AMQP_URL, config.AMQP_PREFIX))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threading.Thread(target=WebhookDispatcher(app).run, args=(stop,), name="webhooks", daemon=True).start()
    LOGGER.info("outbox relay and webhook dispatcher started (prefix %s)", config.AMQP_PREFIX)
    relay.run(stop)


if __name__ == "__main__":
    main()
