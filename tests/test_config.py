"""Settings: read once from the environment, failing fast with a message that names the variable; each
service reads its own (a worker never parses the API's tokens) and every default is written once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imgqueue.config import Settings
from imgqueue.errors import ConfigError
from imgqueue.spec import Limits
from imgqueue_api.settings import ApiSettings
from imgqueue_worker.settings import WorkerSettings


def test_defaults() -> None:
    s = WorkerSettings.from_env({})
    assert s.queue_name == "image_jobs" and s.max_lost == 3 and s.job_ttl == 7 * 24 * 3600
    assert s.job_time_limit == 60 and s.max_input_pixels == 50_000_000
    assert s.recovery_bound <= 30
    assert s.concurrency >= 1


def test_reads_every_kind_of_value() -> None:
    s = WorkerSettings.from_env({"REDIS_URL": "redis://r:6379/2", "QUEUE_NAME": "q", "UPLOAD_DIR": "/u",
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
        WorkerSettings.from_env(env)


def test_each_service_reads_only_its_own_settings() -> None:
    env = {"API_TOKENS": "not-a-token", "IMAGING_ENGINE": "no-such-engine"}
    with pytest.raises(ConfigError, match="IMAGING_ENGINE"):
        WorkerSettings.from_env(env)
    with pytest.raises(ConfigError, match="API_TOKENS"):
        ApiSettings.from_env(env)
    assert WorkerSettings.from_env({"API_TOKENS": "not-a-token"}).max_lost == 3, "a worker never parses a token"
    assert not hasattr(WorkerSettings.from_env({}), "api_tokens") and not hasattr(ApiSettings.from_env({}), "max_lost")
    core = Settings.from_env(env)
    assert core.limits == Limits(), "the limits' defaults are written once, in spec.Limits"


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


def _in_child(code: str, cpus: set[int], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python process pinned to ``cpus``."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, preexec_fn=lambda: os.sched_setaffinity(0, cpus))


def test_worker_processes_and_libvips_threads_share_out_the_cpus_a_process_may_use() -> None:
    code = ("from imgqueue.config import usable_cpus; from imgqueue_worker.settings import WorkerSettings; "
            "s = WorkerSettings.from_env(); "
            "print(usable_cpus(), s.concurrency, s.threads_per_worker)")
    assert _in_child(code, {0}).stdout.split() == ["1", "1", "1"]
    if len(os.sched_getaffinity(0)) >= 2:
        assert _in_child(code, {0, 1}).stdout.split() == ["2", "2", "1"]
        assert _in_child(code, {0, 1}, {"WORKER_CONCURRENCY": "1"}).stdout.split() == ["2", "1", "2"]
    assert _in_child(code, {0}, {"WORKER_CONCURRENCY": "3", "VIPS_THREADS": "4"}).stdout.split() == ["1", "3", "4"]


def test_worker_refuses_imaging_engine_vips_without_pyvips(tmp_path: Path) -> None:
    (tmp_path / "pyvips.py").write_text("raise ImportError('pyvips is not installed here')\n")
    done = subprocess.run([sys.executable, "-m", "imgqueue_worker"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "IMAGING_ENGINE": "vips", "PYTHONPATH": str(tmp_path),
                               "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert done.returncode == 2 and "IMAGING_ENGINE=vips needs pyvips" in done.stderr, done.stderr
