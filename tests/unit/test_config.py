"""HARDENING S13: production refuses to start with development secrets."""
import pytest

from shared.config import Config, InsecureConfigError

GOOD = {
    "CONVEYOR_ENV": "production",
    "CONVEYOR_SECRET_KEY": "s" * 40,
    "CONVEYOR_WORKER_TOKEN": "w" * 40,
    "CONVEYOR_ADMIN_TOKEN": "a" * 40,
    "CONVEYOR_METRICS_TOKEN": "m" * 40,
    "DATABASE_URL": "postgresql+psycopg://prod:long-random-password@db:5432/conveyor",
    "AMQP_URL": "amqp://prod:long-random-password@mq:5672/%2F",
    "CONVEYOR_ARGON2_TIME_COST": "3",
    "CONVEYOR_ARGON2_MEMORY_KIB": "65536",
}


def production(monkeypatch, **overrides):
    for name, value in {**GOOD, **overrides}.items():
        monkeypatch.setenv(name, value)
    return Config()


def test_production_with_real_secrets_starts(monkeypatch):
    production(monkeypatch).check_production()


@pytest.mark.parametrize("name", ["CONVEYOR_SECRET_KEY", "CONVEYOR_WORKER_TOKEN", "CONVEYOR_ADMIN_TOKEN",
                                  "CONVEYOR_METRICS_TOKEN", "DATABASE_URL", "AMQP_URL"])
def test_production_refuses_each_development_default(monkeypatch, name):
    config = production(monkeypatch)
    monkeypatch.delenv(name)
    with pytest.raises(InsecureConfigError, match=name):
        type(config)().check_production()


def test_production_refuses_a_short_metrics_token(monkeypatch):
    with pytest.raises(InsecureConfigError, match="CONVEYOR_METRICS_TOKEN"):
        production(monkeypatch, CONVEYOR_METRICS_TOKEN="short").check_production()


def test_production_refuses_a_cheap_password_hash(monkeypatch):
    with pytest.raises(InsecureConfigError, match="argon2"):
        production(monkeypatch, CONVEYOR_ARGON2_TIME_COST="1").check_production()


def test_production_refuses_a_short_worker_token(monkeypatch):
    with pytest.raises(InsecureConfigError, match="CONVEYOR_WORKER_TOKEN"):
        production(monkeypatch, CONVEYOR_WORKER_TOKEN="short").check_production()


def test_production_app_refuses_to_start_with_defaults(monkeypatch, tmp_path):
    from services.auth import create_app
    monkeypatch.setenv("CONVEYOR_ENV", "production")
    monkeypatch.setenv("CONVEYOR_DATA_DIR", str(tmp_path))
    with pytest.raises(InsecureConfigError):
        create_app()


def test_production_auth_refuses_to_invent_signing_keys(monkeypatch, tmp_path):
    from services.auth import create_app
    production(monkeypatch, CONVEYOR_DATA_DIR=str(tmp_path))
    with pytest.raises(RuntimeError, match="signing keys"):
        create_app()
    assert not (tmp_path / "keys").exists()


def test_a_worker_needs_only_the_worker_secret_and_the_broker(monkeypatch):
    """Workers run untrusted media: they get no database credentials, and are not asked for them."""
    monkeypatch.setenv("CONVEYOR_ENV", "production")
    monkeypatch.setenv("CONVEYOR_WORKER_TOKEN", "w" * 40)
    monkeypatch.setenv("AMQP_URL", GOOD["AMQP_URL"])
    for name in ("DATABASE_URL", "CONVEYOR_SECRET_KEY", "CONVEYOR_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    Config().check_production(role="worker")
    with pytest.raises(InsecureConfigError, match="DATABASE_URL"):
        Config().check_production()
    monkeypatch.setenv("CONVEYOR_WORKER_TOKEN", "dev-worker-token-change-me")
    with pytest.raises(InsecureConfigError, match="CONVEYOR_WORKER_TOKEN"):
        Config().check_production(role="worker")


# --- settings that modules used to read from the environment themselves

def test_image_and_conversion_limit_defaults_match_the_pure_modules(monkeypatch):
    from shared.image_check import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, limits_from_config
    from shared.kinds.convert.limits import ConvertLimits
    for name in ("CONVEYOR_MAX_IMAGE_PIXELS", "CONVEYOR_MAX_IMAGE_BYTES", "CONVEYOR_MAX_MEDIA_SECONDS",
                 "CONVEYOR_MAX_MEDIA_PIXELS", "CONVEYOR_CONVERT_MAX_OUTPUT_BYTES",
                 "CONVEYOR_CONVERT_TIMEOUT_BASE", "CONVEYOR_CONVERT_TIMEOUT_FACTOR"):
        monkeypatch.delenv(name, raising=False)
    config = Config()
    assert limits_from_config(config) == (DEFAULT_MAX_PIXELS, DEFAULT_MAX_BYTES)
    assert ConvertLimits.from_config(config) == ConvertLimits()


def test_limits_come_from_config_or_app_config(monkeypatch):
    from shared.image_check import limits_from_config
    from shared.kinds.convert.limits import ConvertLimits
    monkeypatch.setenv("CONVEYOR_MAX_IMAGE_PIXELS", "1000")
    monkeypatch.setenv("CONVEYOR_MAX_IMAGE_BYTES", "2000")
    monkeypatch.setenv("CONVEYOR_CONVERT_TIMEOUT_BASE", "7")
    config = Config()
    assert limits_from_config(config) == limits_from_config(vars(config)) == (1000, 2000)
    assert ConvertLimits.from_config(config).timeout_base_seconds == 7.0
    assert ConvertLimits.from_config(vars(config)).timeout_base_seconds == 7.0


def test_optional_paths_and_logging_settings(monkeypatch, tmp_path):
    monkeypatch.delenv("CONVEYOR_VISION_MODELS_DIR", raising=False)
    monkeypatch.delenv("CONVEYOR_FFMPEG", raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    config = Config()
    assert config.VISION_MODELS_DIR is None and config.FFMPEG == "" and config.PROMETHEUS_MULTIPROC_DIR == ""
    monkeypatch.setenv("CONVEYOR_VISION_MODELS_DIR", f" {tmp_path} ")
    monkeypatch.setenv("CONVEYOR_LOG_FORMAT", "TEXT")
    monkeypatch.setenv("CONVEYOR_LOG_LEVEL", "debug")
    config = Config()
    assert config.VISION_MODELS_DIR == tmp_path
    assert (config.LOG_FORMAT, config.LOG_LEVEL) == ("text", "DEBUG")


@pytest.mark.parametrize("days, quota_mb, expected_days, expected_quota", [
    (None, None, 30.0, 2048 * 1024 * 1024),  # the defaults
    ("0", "0", 0.0, 0),                       # 0: kept for ever, no quota
    ("", " ", 0.0, 0),                        # empty (NAME= in .env) means the same
    ("0.5", "10", 0.5, 10 * 1024 * 1024),
])
def test_retention_and_quota_take_0_or_empty_as_off(monkeypatch, days, quota_mb, expected_days, expected_quota):
    for name, value in (("CONVEYOR_RETENTION_DAYS", days), ("CONVEYOR_USER_QUOTA_MB", quota_mb)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    config = Config()
    assert (config.RETENTION_DAYS, config.USER_QUOTA_BYTES) == (expected_days, expected_quota)
