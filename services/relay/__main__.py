"""Run the outbox relay, the webhook dispatcher and the retention sweeper: ``python -m services.relay``.

Like a worker, the relay runs in a child process that its supervisor starts again if it dies
(shared.worker.supervisor): a crash of the relay must not stop publishing.
"""
from __future__ import annotations

import logging
import signal
import threading

from services.relay.outbox import OutboxRelay
from services.relay.sweeper import Sweeper
from services.relay.webhooks import WebhookDispatcher
from shared.config import Config
from shared.db import database_app
from shared.logging_setup import configure_logging
from shared.messaging import Publisher
from shared.worker.supervisor import run_supervised

LOGGER = logging.getLogger(__name__)


def serve(config: Config) -> None:
    """Relay the outbox until SIGTERM or SIGINT, with the webhook dispatcher and the sweeper beside it."""
    configure_logging()
    app = database_app(config)
    relay = OutboxRelay(app, Publisher(config.AMQP_URL, config.AMQP_PREFIX))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threading.Thread(target=WebhookDispatcher(app).run, args=(stop,), name="webhooks", daemon=True).start()
    threading.Thread(target=Sweeper(app).run, args=(stop,), name="sweeper", daemon=True).start()
    LOGGER.info("outbox relay, webhook dispatcher and sweeper started (prefix %s)", config.AMQP_PREFIX)
    relay.run(stop)


def main() -> None:
    """Production checks, then the relay in a supervised child process."""
    configure_logging()
    config = Config()
    config.check_production()
    run_supervised(lambda: serve(config), "relay", config=config)


if __name__ == "__main__":
    main()
