"""Settings: read once from the environment, failing fast with a message that names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgqueue.config import Settings
from imgqueue.errors import ConfigError


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.queue_name == "image_jobs" and s.max_lost == 3 and s.job_ttl == 7 * 24 * 3600
    assert s.job_time_limit == 60 and s.max_input_pixels == 50_000_000
    assert s.recovery_bound <= 30
    assert s.concurrency >= 1


def test_reads_every_kind_of_value() -> None:
    s = Settings.from_env({"REDIS_URL": "redis://r:6379/2", "QUEUE_NAME": "q", "UPLOAD_DIR": "/u",
                           "MAX_INPUT_PIXELS": "1_000_000", "HEARTBEAT_TTL": "2.5", "HEARTBEAT_INTERVAL": "1",
                           "WORKER_CONCURRENCY": "4", "LOG_LEVEL": "debug"})
    assert (s.redis_url, s.queue_name, s.upload_dir) == ("redis://r:6379/2", "q", Path("/u"))
    assert s.max_input_pixels == 1_000_000 and s.heartbeat_ttl == 2.5 and s.concurrency == 4


@pytest.mark.parametrize(("env", "names"), [
    ({"MAX_RETRIES": "three"}, "MAX_RETRIES"),
    ({"JOB_TTL": "0"}, "JOB_TTL"),
    ({"HEARTBEAT_TTL": "1", "HEARTBEAT_INTERVAL": "5"}, "HEARTBEAT_TTL"),
    ({"JOB_TIME_LIMIT": "-1"}, "JOB_TIME_LIMIT"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ({"HEARTBEAT_INTERVAL": "fast"}, "HEARTBEAT_INTERVAL"),
])
def test_bad_values_fail_fast_naming_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


def test_frozen_and_round_trips_through_the_environment() -> None:
    s = Settings.from_env({"REDIS_URL": "redis://user:secret@host:1/0"})
    with pytest.raises(AttributeError):
        s.queue_name = "other"  # type: ignore[misc]
    assert Settings.from_env(s.to_env()) == s
    assert "secret" not in s.describe()["REDIS_URL"]


def test_worker_command_reports_config_errors(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from imgqueue_worker.__main__ import main

    monkeypatch.setenv("MAX_LOST", "lots")
    assert main([]) == 2
    assert "MAX_LOST" in capsys.readouterr().err
