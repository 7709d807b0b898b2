"""gunicorn settings for the auth and API services (``gunicorn -c deploy/gunicorn.conf.py ...``)."""
import multiprocessing
import os

# Threads let server-sent event streams wait without holding a whole worker process.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("GUNICORN_THREADS", 8))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
forwarded_allow_ips = "127.0.0.1"


def child_exit(server, worker):
    """Let /metrics forget a dead worker process's live gauges (prometheus-client multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
