"""Write (or, with ``--check``, verify) every file generated from a definition in the code, so that each
word is written once:

* ``.env.example`` and ``docs/settings.md`` from the settings classes (``variables.py``);
* the client's and the dashboard's status lists from ``imgqueue/status.py``, the client's error codes (each
  with its HTTP status) from the API's registry (``imgqueue_api.errors.ERRORS``);
* the API's ``openapi.json`` from ``imgqueue_api.contract``;
* and check that every ``${VAR}`` in the compose files is a documented variable with its default.

    python -m imgqueue_dev.generate [--check] [--root .]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Callable
from itertools import groupby
from pathlib import Path

from imgqueue.status import NEXT, TERMINAL, Delivery, JobStatus
from imgqueue_api import create_app
from imgqueue_api.contract import build
from imgqueue_api.errors import ERRORS
from imgqueue_api.settings import ApiSettings

from .variables import Variable, all_variables

# Variables compose itself defines: not imgqueue settings.
COMPOSE_OWN = frozenset({"COMPOSE_PROJECT_NAME"})
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*)|:?\?[^}]*)?\}")
HEADER = "generated from {source} by `make generate`: do not edit"


def env_example(variables: list[Variable]) -> str:
    lines = [f"# imgqueue settings, {HEADER.format(source='the settings classes')}.",
             "# Copy to .env and uncomment what you change; every variable is optional (the default is shown).",
             "# Settings are read once at start; a malformed value stops the service with a message naming it."]
    for group, members in groupby(variables, key=lambda v: v.group):
        lines += ["", f"# --- {group} ---"]
        for v in members:
            lines += [f"# {_plain(v.doc)}", f"#{v.name}={v.default}"]
    return "\n".join(lines) + "\n"


def settings_reference(variables: list[Variable]) -> str:
    out = [f"<!-- {HEADER.format(source='the settings classes')} -->", "", "# Settings", "",
           "Every setting is an environment variable, read once when a service starts; a malformed value stops it",
           "with a message naming the variable. Copy `.env.example` to `.env` and change what you need: compose",
           "hands `.env` to every service. Each group says which services read it."]
    for (group, reader), members in groupby(variables, key=lambda v: (v.group, v.read_by)):
        out += ["", f"## {group}", "", f"Read by {reader}.", "", "| Variable | Default | Meaning |", "|---|---|---|"]
        out += [f"| `{v.name}` | {_default(v)} | {v.doc} |" for v in members]
    return "\n".join(out) + "\n"


def client_statuses() -> str:
    constants = "".join(f'{s.name} = "{s.value}"\n' for s in JobStatus)
    names = ", ".join(s.name for s in JobStatus)
    final = ", ".join(s.name for s in JobStatus if s in TERMINAL)
    return (f'"""A job\'s statuses, {HEADER.format(source="shared/imgqueue/status.py")}."""\n\n'
            f"{constants}\n"
            f"STATUSES = ({names})  # a job's life, in order\n"
            f"TERMINAL = frozenset({{{final}}})  # a job in one of these statuses will not change again\n")


def client_codes() -> str:
    source = HEADER.format(source="services/api/imgqueue_api/errors.py")
    rows = "".join(f'    "{code}": {problem.status},\n' for code, problem in sorted(ERRORS.items()))
    return f'"""Every error code the API answers, with its HTTP status,\n{source}."""\n\n' \
           f"CODES: dict[str, int] = {{\n{rows}}}\n"


def dashboard_statuses() -> str:
    names = ", ".join(f'{s.name}: "{s.value}"' for s in JobStatus)
    deliveries = ", ".join(f'{d.name}: "{d.value}"' for d in Delivery)  # a webhook message's states
    final = ", ".join(f'"{s.value}"' for s in JobStatus if s in TERMINAL)
    follows = ", ".join(f'{s.value}: [{", ".join(chr(34) + n.value + chr(34) for n in JobStatus if n in NEXT[s])}]'
                        for s in JobStatus)
    return (f"// A job's statuses (and a webhook message's), {HEADER.format(source='shared/imgqueue/status.py')}.\n"
            f'"use strict";\n'
            f"const STATUS = Object.freeze({{{names}}});\n"
            f"const TERMINAL = new Set([{final}]);\n"
            f"const NEXT = Object.freeze({{{follows}}});\n"
            f"const DELIVERY = Object.freeze({{{deliveries}}});\n")


def openapi_document() -> str:
    """The contract as built from the API's code (imgqueue_api.contract), for an app at default settings."""
    logging.getLogger("imgqueue_api").setLevel(logging.ERROR)  # not the open-mode warning: no server starts
    app = create_app({"TESTING": True, "IMGQUEUE_SETTINGS": ApiSettings.from_env({})})
    return json.dumps(build(app), indent=2, ensure_ascii=False) + "\n"


def compose_problems(compose: str, variables: list[Variable]) -> list[str]:
    """Every ${VAR} in the compose files is a documented variable, and its fallback is its default."""
    known = {v.name: v.default if v.compose is None else v.compose for v in variables}
    problems = []
    for name, fallback in _INTERPOLATION.findall(compose):
        if name in COMPOSE_OWN:
            continue
        if name not in known:
            problems.append(f"the compose files use ${{{name}}}, which no settings class or variables.py lists")
        elif fallback and fallback != known[name]:
            problems.append(f"the compose files fall back to {name}={fallback}, the settings say {known[name]}")
    return problems


def _default(v: Variable) -> str:
    text = f"`{v.default}`" if v.default else "(empty)"
    return text if v.compose is None else f"{text} (compose: `{v.compose}`)"


def _plain(doc: str) -> str:
    return doc.replace("`", "")


def targets(root: Path) -> dict[Path, Callable[[str], str]]:
    """Each generated file and how to make it from its current text."""
    variables = all_variables()
    api = root / "services" / "api" / "imgqueue_api"
    return {
        root / ".env.example": lambda _: env_example(variables),
        root / "docs" / "settings.md": lambda _: settings_reference(variables),
        root / "client" / "imgqueue_client" / "statuses.py": lambda _: client_statuses(),
        root / "client" / "imgqueue_client" / "codes.py": lambda _: client_codes(),
        api / "static" / "statuses.js": lambda _: dashboard_statuses(),
        api / "openapi.json": lambda _: openapi_document(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imgqueue_dev.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    parser.add_argument("--root", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    composed = "\n".join(p.read_text() for p in sorted(args.root.glob("docker-compose*.yml")))
    problems = compose_problems(composed, all_variables())
    for path, make in targets(args.root).items():
        current = path.read_text() if path.exists() else ""
        wanted = make(current)
        if current == wanted:
            continue
        if args.check:
            problems.append(f"{path} is out of date: run `make generate`")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted)
            print(f"wrote {path}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
