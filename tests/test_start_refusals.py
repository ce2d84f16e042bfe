"""What the API refuses to start with (the attack run's secrets row), each on a real gunicorn: an example
secret, a signing key that would live in a Redis without a password, open mode on an address gunicorn
really binds beyond loopback; and a server that starts leaves no control socket in its user's home."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from imgqueue_dev.procs import free_port, http_ok
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import Service
from imgqueue_dev.waiting import wait_until

TOKEN = "acme-" + "k" * 24


def start(settings: StackSettings, **env: str) -> subprocess.CompletedProcess[str]:
    """Run gunicorn with these settings (and extra variables) until it exits: a refusal exits at once."""
    merged = {**os.environ, **settings.to_env(), **env}
    return subprocess.run(Service.API.argv(), env=merged, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("secret", "value"), [  # the values the Kubernetes base and .env.example ship
    ("SIGNING_KEY", "change-me-please-0123456789"),
    ("METRICS_TOKEN", "change-me-metrics-token-0123456789"),
    ("REDIS_PASSWORD", "change-me-redis-password"),
    ("API_TOKENS", "ops:admin:change-me-admin-token-0123456789"),
    ("AWS_SECRET_ACCESS_KEY", "change-me"),
])
def test_an_example_secret_is_refused_at_start(settings: StackSettings, secret: str, value: str) -> None:
    token_mode = settings.with_overrides(auth_mode="token", api_tokens=f"acme:client:{TOKEN}", api_port=free_port())
    refused = start(token_mode, **{secret: value})
    assert refused.returncode != 0
    assert secret in refused.stderr and "example value" in refused.stderr


def test_token_mode_without_a_signing_key_needs_a_redis_password(settings: StackSettings) -> None:
    where = urlsplit(settings.redis_url)
    bare = f"redis://{where.hostname}:{where.port}/0"  # the same Redis, reached without its password
    token_mode = settings.with_overrides(auth_mode="token", api_tokens=f"acme:client:{TOKEN}", api_port=free_port())
    refused = start(token_mode, SIGNING_KEY="", REDIS_URL=bare, REDIS_PASSWORD="", REDIS_PASSWORD_FILE="")
    assert refused.returncode != 0 and "SIGNING_KEY" in refused.stderr and "no password" in refused.stderr


@pytest.mark.parametrize("env", [
    {"API_HOST": "0.0.0.0", "API_BIND": "127.0.0.1"},  # compose's publish address does not narrow a bare gunicorn
    {"GUNICORN_CMD_ARGS": "--bind 0.0.0.0:{port}"},  # gunicorn's own options have the last word
], ids=["api-bind-over-a-wide-host", "gunicorn-cmd-args"])
def test_open_mode_refuses_what_gunicorn_would_really_bind(settings: StackSettings, env: dict[str, str]) -> None:
    port = free_port()
    open_mode = settings.with_overrides(auth_mode="open", api_host="127.0.0.1", api_port=port)
    refused = start(open_mode, **{k: v.format(port=port) for k, v in env.items()})
    assert refused.returncode != 0 and "refusing to start" in refused.stderr and "0.0.0.0" in refused.stderr


def test_a_running_api_opens_no_control_socket_in_its_home(settings: StackSettings, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = {**os.environ, **settings.with_overrides(auth_mode="open", api_port=port).to_env(), "HOME": str(home)}
    proc = subprocess.Popen(Service.API.argv(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=60, what="the API to answer")
        assert not (home / ".gunicorn").exists(), "gunicorn's control socket would be shared by every instance"
    finally:
        proc.terminate()
        proc.wait(timeout=30)

