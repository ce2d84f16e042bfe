#!/bin/sh
# Used by the Dockerfile: build /opt/venv for one service in two steps, so that the dependency layer is
# reused until a pyproject.toml changes.
#   venv.sh deps SERVICE   third-party requirements (from the pyproject.toml files, scripts/packages.py)
#   venv.sh code SERVICE   the project's own packages, then drop the build tools
# PIP_INSTALL_ARGS (e.g. "--no-index --find-links=/wheels") is passed to pip.
set -eu
step=$1 service=$2
pip="/opt/venv/bin/pip install --disable-pip-version-check --no-cache-dir ${PIP_INSTALL_ARGS:-}"
case "$step" in
  deps) python3 scripts/packages.py requirements "$service" > /tmp/requirements.txt
        $pip -r /tmp/requirements.txt ;;
  code) $pip --no-deps --no-build-isolation $(python3 scripts/packages.py folders "$service" | sed "s|^|./|")
        /opt/venv/bin/pip uninstall -y -q setuptools ;;
  *) echo "usage: venv.sh deps|code SERVICE" >&2; exit 2 ;;
esac
