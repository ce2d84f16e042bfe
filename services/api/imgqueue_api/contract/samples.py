"""Code samples per operation (``x-codeSamples``, as Redoc and Scalar show them): curl, and the Python client.
The Python lines are checked against the client's real signatures by the tests."""

from __future__ import annotations

from typing import Any

from ..auth import Access
from .model import Operation

BASE = "http://localhost:8000"
PYTHON_SETUP = ('import os\n\nfrom imgqueue_client import Client\n\n'
                'client = Client("http://localhost:8000", token=os.environ.get("IMGQUEUE_TOKEN"))\n')


def code_samples(op: Operation, method: str, path: str, access: Access) -> list[dict[str, Any]]:
    samples = [{"lang": "Shell", "label": "curl", "source": curl(op, method, path, access)}]
    if op.python:
        samples.append({"lang": "Python", "label": "imgqueue-client", "source": PYTHON_SETUP + op.python + "\n"})
    return samples


def curl(op: Operation, method: str, path: str, access: Access) -> str:
    """One option per line, as people write them: ``-F width=800``, ``-H "Idempotency-Key: ..."``."""
    url = BASE + path.format(**op.path_example) + op.query_example
    lines = ["curl --fail-with-body" + ("" if method == "GET" else f" -X {method}")]
    if not access.public:
        lines.append('-H "Authorization: Bearer $IMGQUEUE_TOKEN"')
    lines += [*op.curl, f"'{url}'"]
    return " \\\n  ".join(lines)
