"""gunicorn settings: ``gunicorn -c python:imgqueue_api.gunicorn_conf 'imgqueue_api:create_app()'``.

Bind address, processes and worker class come from imgqueue's settings (API_HOST, API_PORT, API_WORKERS,
API_WORKER_CLASS, API_WORKER_CONNECTIONS, API_THREADS); a bad value stops gunicorn at once, naming it.

gevent workers: every request is a greenlet, so hundreds of open event streams (each mostly waiting)
cost little and never starve uploads, which a thread-per-request worker would (a stream holds its
thread for as long as the client watches). Metrics from all worker processes are merged through
prometheus_client's multiprocess mode (a temp folder per server start).
"""

import os
import sys
import tempfile

from imgqueue.errors import ConfigError
from imgqueue_api.settings import ApiSettings

try:
    _settings = ApiSettings.from_env()
except ConfigError as exc:
    sys.exit(f"imgqueue-api: configuration error: {exc}")
_refusal = _settings.refuse_open_binds([f"{_settings.api_host}:{_settings.api_port}"])
if _refusal:
    sys.exit(f"imgqueue-api: refusing to start: {_refusal}")

bind = f"{_settings.api_host}:{_settings.api_port}"
workers = _settings.api_workers
worker_class = _settings.api_worker_class
worker_connections = _settings.api_worker_connections
threads = _settings.api_threads
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = "-"
logger_class = "imgqueue_api.accesslog.AccessLogger"
access_log_format = 'ts=%(t)s level=INFO logger=access method=%(m)s path="%(U)s" status=%(s)s bytes=%(B)s ms=%(M)s'
errorlog = "-"
control_socket_disable = True  # gunicorn's control socket would sit in $HOME/.gunicorn/, shared by every instance

if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="imgqueue-metrics-")


def on_starting(server: object) -> None:
    """The addresses gunicorn will bind, once its command line and GUNICORN_CMD_ARGS had their say."""
    refusal = _settings.refuse_open_binds(list(server.cfg.bind))  # type: ignore[attr-defined]
    if refusal:
        sys.exit(f"imgqueue-api: refusing to start: {refusal}")


def post_worker_init(worker: object) -> None:
    from imgqueue_api import raw_errors, sampler
    from imgqueue_api.events import set_server_alive

    set_server_alive(lambda: bool(worker.alive))  # type: ignore[attr-defined]
    raw_errors.install()
    sampler.start(_settings)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]
