"""The relay process: the outbox relay and, in a thread, the webhook dispatcher."""
