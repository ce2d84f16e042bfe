# imgqueue's images, one target per service: `docker build --target api|worker|tester .` (docker compose
# builds them). PYTHON_IMAGE is the base: the official python:3.12-slim by default. Where no registry is
# reachable, `make images` builds a Debian base here and writes it into .env, with
# PIP_INSTALL_ARGS="--no-index --find-links=/wheels" to install from the wheelhouse built on the host.
ARG PYTHON_IMAGE=python:3.12-slim
ARG PROMETHEUS_IMAGE=prom/prometheus:v2.53.0

# --- a venv per service: third-party dependencies first (from the pyproject.toml files), then the code ---
FROM ${PYTHON_IMAGE} AS build
ARG PIP_INSTALL_ARGS=""
ENV PIP_INSTALL_ARGS=${PIP_INSTALL_ARGS} PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY wheelhouse/ /wheels/
COPY scripts/packages.py scripts/venv.sh scripts/
COPY shared/pyproject.toml shared/
COPY client/pyproject.toml client/
COPY services/api/pyproject.toml services/api/
COPY services/worker/pyproject.toml services/worker/
COPY services/tester/pyproject.toml services/tester/
RUN python3 -m venv /opt/venv

FROM build AS api-venv
RUN scripts/venv.sh deps api
COPY shared/ shared/
COPY services/api/ services/api/
RUN scripts/venv.sh code api

FROM build AS worker-venv
RUN scripts/venv.sh deps worker
COPY shared/ shared/
COPY services/worker/ services/worker/
RUN scripts/venv.sh code worker

FROM build AS tester-venv
RUN scripts/venv.sh deps tester
COPY client/ client/
COPY services/tester/ services/tester/
RUN scripts/venv.sh code tester

FROM build AS objectstore-venv
RUN scripts/venv.sh deps objectstore

# --- runtime: the base image, a venv, a non-root user; no compilers, no wheelhouse, no sources ----------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    UPLOAD_DIR=/data/uploads OUTPUT_DIR=/data/output
RUN groupadd --system --gid 10001 imgqueue \
 && useradd --system --uid 10001 --gid imgqueue --home-dir /app --create-home --shell /usr/sbin/nologin imgqueue \
 && mkdir -p /data/uploads /data/output \
 && chown -R imgqueue:imgqueue /data
WORKDIR /app
USER imgqueue

FROM runtime AS api
COPY --from=api-venv /opt/venv /opt/venv
ENV API_HOST=0.0.0.0 API_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["gunicorn", "-c", "python:imgqueue_api.gunicorn_conf", "imgqueue_api:create_app()"]

FROM runtime AS worker
COPY --from=worker-venv /opt/venv /opt/venv
# The supervisor forwards SIGTERM to its processes, which finish their job (SHUTDOWN_TIMEOUT) and exit.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=5s --start-period=10s --retries=3 CMD ["imgqueue-worker", "healthcheck"]
CMD ["imgqueue-worker"]

# The bundled S3 server (make up STORAGE=s3): rclone serve s3, which checks request signatures. A bucket is
# a folder of /data. Its key reaches rclone through its environment (RCLONE_AUTH_KEY), not its command line.
FROM runtime AS objectstore
COPY --from=objectstore-venv /opt/venv /opt/venv
ENV BUCKET=imgqueue
EXPOSE 9000
HEALTHCHECK --interval=3s --timeout=3s --start-period=5s --retries=10 \
  CMD ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 9000), 2)"]
ENTRYPOINT ["sh", "-c", "mkdir -p \"/data/$BUCKET\" && RCLONE_AUTH_KEY=\"\\\"$AWS_ACCESS_KEY_ID,$AWS_SECRET_ACCESS_KEY\\\"\" \
  exec rclone serve s3 --addr :9000 --vfs-cache-mode off /data"]

FROM runtime AS tester
COPY --from=tester-venv /opt/venv /opt/venv
ENTRYPOINT ["imgqueue-tester"]
CMD ["--api", "http://api:8000"]

# --- the bundled Prometheus (make up MONITORING=1): last, so no other target builds it ----------------
FROM ${PROMETHEUS_IMAGE} AS prometheus
COPY deploy/monitoring/rules.yml /etc/imgqueue/rules.yml
COPY deploy/monitoring/start-prometheus.sh /usr/local/bin/start-prometheus.sh
RUN mkdir -p /prometheus && chown -R 65534:65534 /prometheus  # the data volume starts from this, owned so
USER 65534:65534
EXPOSE 9090
ENTRYPOINT ["/bin/sh", "/usr/local/bin/start-prometheus.sh"]
