#!/usr/bin/env bash
# Choose the base images the compose stack builds on, prepare them, and write the choice into .env (in a
# block of its own: the user's lines are left as they are), where plain `docker compose` reads it.
#
#   official: python:3.12-slim and redis:7-alpine from a registry (present locally, or pulled now).
#   local:    no registry reachable: build a Debian bookworm base image here with mmdebstrap + docker import
#             (python3, venv, redis-server) and a wheelhouse of the Python dependencies on the host, since
#             nothing inside `docker build` reaches the network either.
# IMGQUEUE_IMAGES=auto (default) tries official first; =official or =local forces one.
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_FILE=.env
BEGIN="# >>> written by make images: your own lines go outside this block"
END="# <<< make images"

# A value the user set: in the environment, or in .env outside our block.
user_value() {
  local name=$1
  if [ -n "${!name:-}" ]; then echo "${!name}"; return; fi
  [ -f "$ENV_FILE" ] || return 0
  sed "/^$BEGIN\$/,/^$END\$/d" "$ENV_FILE" | sed -n "s/^$name=//p" | tail -n 1
}

PY_IMAGE=$(user_value PYTHON_IMAGE); PY_IMAGE=${PY_IMAGE:-python:3.12-slim}
RD_IMAGE=$(user_value REDIS_IMAGE); RD_IMAGE=${RD_IMAGE:-redis:7-alpine}
LOCAL_BASE=${LOCAL_BASE_IMAGE:-imgqueue-base:bookworm}
PROM_OFFICIAL=$(user_value PROMETHEUS_IMAGE); PROM_OFFICIAL=${PROM_OFFICIAL:-prom/prometheus:v2.53.0}
LOCAL_PROM=${LOCAL_PROMETHEUS_IMAGE:-imgqueue-prometheus-base:bookworm}
MODE=$(user_value IMGQUEUE_IMAGES); MODE=${MODE:-auto}
mkdir -p build wheelhouse

say() { echo "images: $*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

try_official() {
  for image in "$PY_IMAGE" "$RD_IMAGE"; do
    if have_image "$image"; then continue; fi
    say "pulling $image ..."
    if ! timeout 120 docker pull -q "$image" >/dev/null 2>&1; then
      say "cannot pull $image (no registry reachable?)"
      return 1
    fi
  done
}

build_local_base() {
  if have_image "$LOCAL_BASE"; then
    say "using the local base image $LOCAL_BASE (docker rmi it to rebuild)"
    return
  fi
  if ! command -v mmdebstrap >/dev/null; then
    say "installing mmdebstrap (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
  fi
  say "building $LOCAL_BASE from Debian packages with mmdebstrap (about a minute) ..."
  rm -f build/base.tar
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,redis-server,passwd \
    bookworm build/base.tar
  docker import build/base.tar "$LOCAL_BASE" >/dev/null
  rm -f build/base.tar
  say "built $LOCAL_BASE"
}

# MONITORING=1 (make up MONITORING=1): a Prometheus base too. Air-gapped, from Debian's own package
# (prometheus, with wget for the healthcheck), as the Python base is.
build_prometheus_base() {
  if have_image "$LOCAL_PROM"; then return; fi
  command -v mmdebstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null; }
  say "building $LOCAL_PROM from Debian's prometheus package with mmdebstrap ..."
  rm -f build/prometheus.tar
  mmdebstrap --quiet --variant=minbase --include=prometheus,wget bookworm build/prometheus.tar
  docker import build/prometheus.tar "$LOCAL_PROM" >/dev/null
  rm -f build/prometheus.tar
  say "built $LOCAL_PROM"
}

# The Prometheus image (written into .env either way; prepared only with MONITORING=1).
prometheus_image() {
  local official=$1
  if [ "$official" = yes ] && { have_image "$PROM_OFFICIAL" || { [ "${MONITORING:-}" = 1 ] && docker pull -q "$PROM_OFFICIAL" >/dev/null 2>&1; }; }; then
    echo "$PROM_OFFICIAL"; return
  fi
  [ "${MONITORING:-}" = 1 ] && build_prometheus_base
  echo "$LOCAL_PROM"
}

build_wheelhouse() {
  local stamp=wheelhouse/.stamp
  if [ -f "$stamp" ] && [ -z "$(find . -name pyproject.toml -newer "$stamp" -not -path './.venv/*')" ]; then
    say "wheelhouse is up to date ($(ls wheelhouse/*.whl | wc -l) wheels)"
    return
  fi
  local arch; arch=$(uname -m)
  local platforms=()
  for tag in manylinux2014 manylinux_2_17 manylinux_2_24 manylinux_2_27 manylinux_2_28 manylinux_2_31 \
             manylinux_2_34 manylinux_2_35 manylinux_2_36; do
    platforms+=(--platform "${tag}_${arch}")
  done
  # pyvips is published as a source archive only; it builds into a pure-Python wheel (libvips itself
  # comes in the pyvips-binary wheel).
  say "building the pyvips wheel ..."
  python3 -m pip wheel --quiet --disable-pip-version-check --no-deps -w wheelhouse \
    "$(python3 scripts/packages.py requirements worker | grep '^pyvips[>=<]')"
  say "downloading wheels for Python 3.11.2 (Debian bookworm's) into wheelhouse/ ..."
  python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: --find-links wheelhouse \
    --python-version 3.11.2 --implementation cp --abi cp311 --abi abi3 --abi none "${platforms[@]}" \
    --platform any -d wheelhouse -r <(python3 scripts/packages.py requirements api worker tester objectstore) \
    'async-timeout>=4.0.3'  # redis needs it on Python < 3.11.3, a marker pip download does not evaluate
  touch "$stamp"
}

# Redis' password, in a file the stack hands to Redis, the API and the workers as a secret (never on a
# command line, never in a container's environment): the one written before, else the user's own
# REDIS_PASSWORD (or the one 0.1 wrote into .env), else a new random one.
write_redis_secret() {
  local secret=${REDIS_PASSWORD_SECRET:-secrets/redis_password} password
  if [ -s "$secret" ]; then return; fi
  password=$(user_value REDIS_PASSWORD)
  if [ -z "$password" ] && [ -f "$ENV_FILE" ]; then
    password=$(sed -n "/^$BEGIN\$/,/^$END\$/s/^REDIS_PASSWORD=//p" "$ENV_FILE" | tail -n 1)
  fi
  [ -n "$password" ] || password=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
  mkdir -p "$(dirname "$secret")"
  chmod 700 "$(dirname "$secret")"
  (umask 022; printf '%s\n' "$password" > "$secret")  # readable by the containers' user; its folder is not
  say "wrote Redis' password into $secret"
}

write_env() {
  local kept=""
  [ -f "$ENV_FILE" ] && kept=$(sed "/^$BEGIN\$/,/^$END\$/d" "$ENV_FILE")
  write_redis_secret
  local s3_secret=""
  [ -f "$ENV_FILE" ] && s3_secret=$(sed -n "/^$BEGIN\$/,/^$END\$/s/^AWS_SECRET_ACCESS_KEY=//p" "$ENV_FILE" | tail -n 1)
  [ -n "$s3_secret" ] || s3_secret=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
  {
    [ -n "$kept" ] && printf '%s\n' "$kept"
    printf '%s\nPYTHON_IMAGE=%s\nREDIS_IMAGE=%s\nPIP_INSTALL_ARGS=%s\nPROMETHEUS_IMAGE=%s\n' "$BEGIN" "$1" "$2" "$3" "$4"
    # Credentials of the bundled object store (make up STORAGE=s3), unless you set your own.
    [ -n "$(user_value AWS_ACCESS_KEY_ID)" ] || printf 'AWS_ACCESS_KEY_ID=imgqueue\n'
    [ -n "$(user_value AWS_SECRET_ACCESS_KEY)" ] || printf 'AWS_SECRET_ACCESS_KEY=%s\n' "$s3_secret"
    printf '%s\n' "$END"
  } > "$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  say "wrote the image choice into $ENV_FILE: base $1, redis $2${3:+, pip $3}"
}

case "$MODE" in
  official)
    try_official || { say "IMGQUEUE_IMAGES=official but the official images are not available"; exit 1; }
    write_env "$PY_IMAGE" "$RD_IMAGE" "" "$(prometheus_image yes)" ;;
  local)
    build_local_base; build_wheelhouse
    write_env "$LOCAL_BASE" "$LOCAL_BASE" "--no-index --find-links=/wheels" "$(prometheus_image no)" ;;
  auto)
    if try_official; then
      write_env "$PY_IMAGE" "$RD_IMAGE" "" "$(prometheus_image yes)"
    else
      say "no registry: building everything locally instead (air-gapped path)"
      build_local_base; build_wheelhouse
      write_env "$LOCAL_BASE" "$LOCAL_BASE" "--no-index --find-links=/wheels" "$(prometheus_image no)"
    fi ;;
  *) say "IMGQUEUE_IMAGES must be auto, official or local"; exit 2 ;;
esac
