import json
import logging
import threading

from shared.logging_setup import JobIdFilter, JsonFormatter, job_context, set_job_context


def capture() -> tuple[logging.Logger, list[str]]:
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(JobIdFilter())
    logger = logging.getLogger(f"test.{id(lines)}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, lines


def test_lines_inside_a_job_context_carry_the_job_id_as_json():
    logger, lines = capture()
    with job_context("1234"):
        logger.info("claimed by %s", "w1")
    logger.info("idle")
    first, second = (json.loads(line) for line in lines)
    assert first["job_id"] == "1234" and first["message"] == "claimed by w1" and first["level"] == "INFO"
    assert "job_id" not in second and second["logger"].startswith("test.")


def test_each_thread_keeps_its_own_job_id():
    logger, lines = capture()

    def work(job_id):
        set_job_context(job_id)
        logger.info("working")

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(json.loads(line)["job_id"] for line in lines) == ["a", "b"]


def test_exceptions_are_kept_in_the_json_line():
    logger, lines = capture()
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    entry = json.loads(lines[0])
    assert "ValueError: boom" in entry["exception"]


def test_configure_logging_takes_format_and_level_from_config(monkeypatch):
    from shared.config import Config
    from shared.logging_setup import configure_logging
    monkeypatch.setenv("CONVEYOR_LOG_FORMAT", "text")
    monkeypatch.setenv("CONVEYOR_LOG_LEVEL", "warning")
    root = logging.getLogger()
    kept_handlers, kept_level = root.handlers[:], root.level
    root.handlers = [h for h in root.handlers if not getattr(h, "_conveyor", False)]
    try:
        configure_logging(Config())
        ours = [h for h in root.handlers if getattr(h, "_conveyor", False)]
        assert len(ours) == 1 and not isinstance(ours[0].formatter, JsonFormatter)
        assert root.level == logging.WARNING
    finally:
        root.handlers, root.level = kept_handlers, kept_level
