"""gunicorn settings: ``gunicorn -c python:imgqueue_api.gunicorn_conf 'imgqueue_api:create_app()'``.

Read from the environment: API_HOST (default 127.0.0.1), API_PORT (8000), API_WORKERS (2),
API_THREADS (8). gthread workers: each request holds a thread, not a process, so slow clients and
long-lived streams do not starve uploads.
"""

import os

bind = f"{os.environ.get('API_HOST', '127.0.0.1')}:{os.environ.get('API_PORT', '8000')}"
workers = int(os.environ.get("API_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("API_THREADS", "8"))
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = "-"
access_log_format = 'ts=%(t)s level=INFO logger=access method=%(m)s path="%(U)s" status=%(s)s bytes=%(B)s ms=%(M)s'
errorlog = "-"
