"""The client as a package: its version follows the API's, every error code the API can answer maps to a
typed exception carrying the code, and against the real API those are what a call raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

import imgqueue_client
from helpers import image_bytes
from imgqueue_api.errors import ERRORS
from imgqueue_client import CODES, ApiError, Conflict, InvalidRequest, NotFound, RateLimited
from imgqueue_client.errors import BY_STATUS
from imgqueue_dev.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]


def test_the_clients_version_is_the_apis() -> None:
    document = json.loads((ROOT / "services" / "api" / "imgqueue_api" / "openapi.json").read_text())
    assert imgqueue_client.__version__ == document["info"]["version"]
    assert (ROOT / "client" / "imgqueue_client" / "py.typed").exists() and (ROOT / "client" / "README.md").exists()


def test_every_error_code_has_a_typed_exception_of_its_status() -> None:
    assert {code: problem.status for code, problem in ERRORS.items()} == CODES
    for code, status in CODES.items():
        kind = BY_STATUS.get(status)
        assert kind is not None and issubclass(kind, ApiError), f"{code} ({status}) has no exception of its own"


def test_calls_raise_the_exception_of_the_answer_with_its_code(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(upload_rate_limit=2, upload_rate_window=60)  # the refused one counts
    local.start_api()
    client = local.client
    with pytest.raises(NotFound) as missing:
        client.job("0" * 32)
    assert missing.value.code == "job_not_found" and missing.value.status == 404
    with pytest.raises(InvalidRequest) as bad:
        client.submit(image_bytes(40, 30), "wide")
    assert bad.value.code == "invalid_parameter" and "width" in bad.value.message
    job = client.submit(image_bytes(40, 30), 20, 10, delay=60)["jobId"]
    with pytest.raises(Conflict) as early:
        client.download(job, "/dev/null")
    assert early.value.code == "not_done"
    with pytest.raises(RateLimited) as limited:
        client.submit(image_bytes(40, 30), 20, 10)
    assert limited.value.code == "rate_limited" and (limited.value.retry_after or 0) > 0
    assert requests.get(f"{local.url}/jobs/{job}", timeout=10).status_code == 200
