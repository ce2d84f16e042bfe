"""The OpenAPI document (services/api/imgqueue_api/openapi.json) against the running code: every route is
documented and every documented operation exists; then property-based fuzzing of the running API from the
document (schemathesis), in both auth modes and with every kind of caller: no server error, and every
response as the document says."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from imgqueue_api import create_app
from imgqueue_api.docs import document
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


def test_the_document_is_served(api_server: LocalStack) -> None:
    served = requests.get(f"{api_server.url}/openapi.json", timeout=10).json()
    assert served == document(open_mode=True) and served["openapi"].startswith("3.1")
    assert all(op["security"] == [] for item in served["paths"].values() for op in item.values()), \
        "open mode asks for no token, and says so"
    page = requests.get(f"{api_server.url}/docs", timeout=10)
    assert page.status_code == 200 and "POST /upload" in page.text and "https://" not in page.text


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
