"""gunicorn settings: ``gunicorn -c python:imgqueue_api.gunicorn_conf 'imgqueue_api:create_app()'``.

Read from the environment: API_HOST (default 127.0.0.1), API_PORT (8000), API_WORKERS (2),
API_WORKER_CLASS (gevent), API_WORKER_CONNECTIONS (1000), API_THREADS (8, for gthread).

gevent workers: every request is a greenlet, so hundreds of open event streams (each mostly waiting)
cost little and never starve uploads, which a thread-per-request worker would (a stream holds its
thread for as long as the client watches). Metrics from all worker processes are merged through
prometheus_client's multiprocess mode (a temp folder per server start).
"""

import os
import tempfile

bind = f"{os.environ.get('API_HOST', '127.0.0.1')}:{os.environ.get('API_PORT', '8000')}"
workers = int(os.environ.get("API_WORKERS", "2"))
worker_class = os.environ.get("API_WORKER_CLASS", "gevent")
worker_connections = int(os.environ.get("API_WORKER_CONNECTIONS", "1000"))
threads = int(os.environ.get("API_THREADS", "8"))
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = "-"
access_log_format = 'ts=%(t)s level=INFO logger=access method=%(m)s path="%(U)s" status=%(s)s bytes=%(B)s ms=%(M)s'
errorlog = "-"

if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="imgqueue-metrics-")


def post_worker_init(worker: object) -> None:
    from imgqueue_api.events import set_server_alive

    set_server_alive(lambda: bool(worker.alive))  # type: ignore[attr-defined]


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]
