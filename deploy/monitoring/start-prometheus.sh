#!/bin/sh
# The bundled Prometheus' entrypoint: write its configuration (the API's /metrics, with METRICS_TOKEN as a
# bearer token when one is set, kept in a file, not on the command line) and start it.
set -eu
umask 077
config=/tmp/prometheus.yml
{
  echo "global: {scrape_interval: 15s, evaluation_interval: 15s}"
  echo "rule_files: [/etc/imgqueue/rules.yml]"
  echo "scrape_configs:"
  echo "  - job_name: imgqueue"
  echo "    metrics_path: /metrics"
  echo "    static_configs: [{targets: ['api:8000']}]"
  if [ -n "${METRICS_TOKEN:-}" ]; then
    printf '%s' "$METRICS_TOKEN" > /tmp/metrics_token
    echo "    authorization: {credentials_file: /tmp/metrics_token}"
  fi
} > "$config"
unset METRICS_TOKEN
binary=$(command -v prometheus || echo /bin/prometheus)
exec "$binary" --config.file="$config" --storage.tsdb.path=/prometheus --web.listen-address=:9090 "$@"
