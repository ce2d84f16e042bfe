"""The OpenAPI document (services/api/imgqueue_api/openapi.json, built by imgqueue_api.contract) against the
code: every route is documented and every documented operation exists, every response has examples that fit
its schema, every error code is documented where it is answered, the code samples call the client as it is.
Then property-based fuzzing of the running API from the document (schemathesis), in both auth modes and with
every kind of caller: no server error, and every response as the document says."""

from __future__ import annotations

import ast
import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from imgqueue_api import create_app
from imgqueue_api.contract import build
from imgqueue_api.docs import document
from imgqueue_api.errors import ERRORS
from imgqueue_client import Client
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack

CONFIG = Path(__file__).with_name("schemathesis.toml")
CLIENT, ADMIN = "fuzz-client-token-0123456789", "fuzz-admin-token-0123456789a"
UNDOCUMENTED = {"/static/<path:filename>"}
SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent))


def routes(settings: StackSettings) -> set[tuple[str, str]]:
    app = create_app({"TESTING": True, "IMGQUEUE_SETTINGS": settings})
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule in UNDOCUMENTED:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        out.update((path, method.lower()) for method in rule.methods or () if method not in ("HEAD", "OPTIONS"))
    return out


def test_every_route_is_documented_and_every_operation_exists(settings: StackSettings) -> None:
    documented = {(path, method) for path, item in document()["paths"].items() for method in item}
    assert routes(settings) == documented


def test_the_repository_document_is_the_one_the_code_builds(settings: StackSettings) -> None:
    app = create_app({"TESTING": True, "IMGQUEUE_SETTINGS": settings})
    assert document() == json.loads(json.dumps(build(app))), "run make generate"


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document()["paths"].items() for method, op in item.items()]


def test_every_response_of_every_operation_has_an_example() -> None:
    missing = []
    for path, method, op in operations():
        bodies = [("request", op["requestBody"])] if "requestBody" in op else []
        for where, part in [*bodies, *op["responses"].items()]:
            for media, content in part["content"].items():
                if "example" not in content and not content.get("examples"):
                    missing.append(f"{method.upper()} {path} {where} {media}")
        assert op.get("description") and op.get("tags"), f"{method.upper()} {path}: no description or tag"
    assert not missing, missing


def _validator(doc: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer``, its $refs resolved within the document (OpenAPI 3.1 schemas
    are JSON Schema 2020-12)."""
    return Draft202012Validator({**doc, "$ref": pointer}, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _resolved(doc: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    ref = value.get("$ref", "")
    return _resolved(doc, doc["components"]["examples"][ref.rsplit("/", 1)[-1]]) if ref else value


def test_every_example_fits_its_schema() -> None:
    doc, checked = document(), 0
    for path, method, op in operations():
        for status, response in op["responses"].items():
            for media, content in response["content"].items():
                if not media.endswith("json"):
                    continue
                pointer = f"#/paths/{_escape(path)}/{method}/responses/{status}/content/{_escape(media)}/schema"
                examples = [content["example"]] if "example" in content else \
                    [_resolved(doc, e)["value"] for e in content["examples"].values()]
                for example in examples:
                    _validator(doc, pointer).validate(example)
                    checked += 1
    assert checked > 60


def test_every_error_code_is_answered_by_some_operation_with_its_status() -> None:
    seen: dict[str, set[str]] = {}
    for _, _, op in operations():
        for status, response in op["responses"].items():
            for example in response["content"].get("application/json", {}).get("examples", {}).values():
                seen.setdefault(example["$ref"].rsplit("/", 1)[-1], set()).add(status)
    assert {code: {str(p.status)} for code, p in ERRORS.items()} == \
        {code: statuses for code, statuses in seen.items()}


def test_the_python_samples_call_the_client_as_it_is() -> None:
    """Every ``client.<method>(...)`` in a sample binds to the client's real signature."""
    calls = 0
    for path, method, op in operations():
        for sample in op["x-codeSamples"]:
            if sample["lang"] != "Python":
                continue
            compile(sample["source"], f"{method} {path}", "exec")
            for node in ast.walk(ast.parse(sample["source"])):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "client":
                    signature = inspect.signature(getattr(Client, node.func.attr))
                    signature.bind(None, *(object() for _ in node.args), **{k.arg: object() for k in node.keywords
                                                                              if k.arg})
                    calls += 1
    assert calls >= len(operations()) - 2, "every operation but the two pages has a Python sample"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def test_the_document_is_served(api_server: LocalStack) -> None:
    served = requests.get(f"{api_server.url}/openapi.json", timeout=10).json()
    assert served == document(open_mode=True) and served["openapi"].startswith("3.1")
    assert all(op["security"] == [] for item in served["paths"].values() for op in item.values()), \
        "open mode asks for no token, and says so"
    page = requests.get(f"{api_server.url}/docs", timeout=10)
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text and "https://" not in page.text
    bundle = requests.get(f"{api_server.url}/docs/ui/swagger-ui-bundle.js", timeout=10)
    assert bundle.status_code == 200 and "javascript" in bundle.headers["Content-Type"]
    assert len(bundle.content) > 100_000
    assert requests.get(f"{api_server.url}/docs/ui/index.html", timeout=10).status_code == 404, "the page's files only"


def fuzz(stack: LocalStack, seconds: int, token: str | None = None, *extra: str) -> None:
    if SCHEMATHESIS is None:
        pytest.fail("schemathesis is not installed (make install)")
    cmd = [SCHEMATHESIS, "--config-file", str(CONFIG), "--no-color", "run", f"{stack.url}/openapi.json",
           "--max-examples", "50", "--max-time", str(seconds), "--seed", "20261129", *extra]
    if token:
        cmd += ["--header", f"Authorization: Bearer {token}"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    report = run.stdout[-8000:] + run.stderr[-2000:]
    print(report)
    assert run.returncode == 0, report
    assert re.search(r"\d+ generated, \d+ passed", run.stdout), report


@pytest.fixture
def token_stack(local: LocalStack) -> LocalStack:
    local.settings = local.settings.with_overrides(
        auth_mode="token", api_tokens=f"fuzz:client:{CLIENT},ops:admin:{ADMIN}", max_upload_bytes=300_000)
    local.start_api()
    local.start_workers(1)
    return local


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_fuzz_token_mode_as_client_admin_and_nobody(token_stack: LocalStack) -> None:
    fuzz(token_stack, 40, CLIENT)
    fuzz(token_stack, 40, ADMIN)
    fuzz(token_stack, 20)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fuzz_open_mode(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(max_upload_bytes=300_000)
    local.start_api()
    local.start_workers(1)
    fuzz(local, 20)
