"""gunicorn settings for the auth and API services (``gunicorn -c deploy/gunicorn.conf.py ...``)."""
import logging
import multiprocessing
import os
import stat

from gunicorn.glogging import Logger

from shared.logging_setup import RedactSecretsFilter, redact_secrets

# Threads let server-sent event streams wait without holding a whole worker process.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("GUNICORN_THREADS", 8))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
graceful_timeout = 30
keepalive = 5
# "-" is stdout, a path a file, and an empty value no access log at all (the benchmarks).
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"


def keep_private(path: str) -> None:
    """Make a log file readable by its owner only; leave anything else alone.

    The path may be a device: a benchmark once logged to /dev/null, this made it 0600, and every
    program of another user (rabbitmqctl runs as rabbitmq) then failed to open the null device.
    """
    if stat.S_ISREG(os.stat(path).st_mode):
        os.chmod(path, 0o600)


class RedactingLogger(Logger):
    """gunicorn's logger, with secrets in query strings (seed tokens, ``api_key=``) masked in every line."""

    def setup(self, cfg):
        """Filter the error log too ("Error handling request /path?query"); keep log files private."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(RedactSecretsFilter())
            for handler in log.handlers:
                if isinstance(handler, logging.FileHandler):
                    keep_private(handler.baseFilename)

    def atoms(self, resp, req, environ, request_time):
        """The access-log fields, with the request line, query, referer and headers redacted."""
        fields = super().atoms(resp, req, environ, request_time)
        return {name: redact_secrets(value) if isinstance(value, str) else value for name, value in fields.items()}


logger_class = RedactingLogger
forwarded_allow_ips = "127.0.0.1"


def child_exit(server, worker):
    """Let /metrics forget a dead worker process's live gauges (prometheus-client multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
