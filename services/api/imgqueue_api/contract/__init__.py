"""The API's contract, OpenAPI 3.1, built from the code: each operation's words and examples here (one module
per group of routes), its path, method and access from the app's routes and the access declared beside each
view, its errors from the one registry (``errors.ERRORS``), its fields from the parsers' own definitions.

``make generate`` writes it to ``openapi.json`` (kept in the repository for people and tools, and served as
``GET /openapi.json``); ``make lint`` fails when that file is out of date."""

from __future__ import annotations

from typing import Any

from flask import Flask

from .. import auth
from . import jobs, notices, reading, watching
from .model import (
    Operation,
    error_codes,
    error_examples,
    error_responses,
    openapi_path,
    request_body,
    security,
    success,
    who_may,
)
from .pages import OPERATIONS as PAGES
from .samples import code_samples
from .schemas import schemas

__all__ = ["OPERATIONS", "TAGS", "build"]

OPERATIONS: tuple[Operation, ...] = (*jobs.OPERATIONS, *notices.OPERATIONS, *reading.OPERATIONS,
                                     *watching.OPERATIONS, *PAGES)
TAGS = (
    ("jobs", "Upload images, follow and steer their jobs"),
    ("results", "Collect what the jobs made"),
    ("events", "Follow jobs live (server-sent events)"),
    ("admin", "Operators: counters, metrics, autoscaling"),
    ("health", "Probes, and who the API takes you for"),
    ("pages", "The dashboard, this reference, the document itself"),
)
VERSION = "0.2.0"
INTRO = ("Upload images, resize them in a pool of workers, follow every job live, collect the results.\n\n"
         "**Tokens.** With AUTH_MODE=token every operation but the public ones needs `Authorization: Bearer "
         "<token>` (press *Authorize*); with AUTH_MODE=open (loopback only) none does. A client token sees its "
         "own tenant's jobs only: any other id answers 404.\n\n"
         "**Errors.** Every error is JSON, `{\"error\": {\"code\", \"message\"}}`: `code` is for programs (each "
         "operation lists the ones it may answer, with an example), `message` for people.")
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "an API token (`imgqueue-admin tokens create`, or API_TOKENS)"},
    "streamTicket": {"type": "apiKey", "in": "query", "name": "ticket",
                     "description": "from POST /events/ticket; valid STREAM_TICKET_TTL seconds"},
    "signedLink": {"type": "apiKey", "in": "query", "name": "sig", "description": "the signature of a resultUrl"},
    "signedLinkExpiry": {"type": "apiKey", "in": "query", "name": "expires",
                         "description": "the expiry of a resultUrl"},
}


def build(app: Flask) -> dict[str, Any]:
    """The document for this app's routes. Raises LookupError for an operation whose endpoint the app lacks."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        rule = next((r for r in app.url_map.iter_rules() if r.endpoint == op.endpoint), None)
        access = auth.declared(app.view_functions.get(op.endpoint, _nothing))
        if rule is None or access is None:
            raise LookupError(f"{op.id}: the app has no route {op.endpoint} with declared access")
        method = next(m for m in sorted(rule.methods or ()) if m not in ("HEAD", "OPTIONS"))
        path = openapi_path(rule.rule)
        paths.setdefault(path, {})[method.lower()] = _operation(op, method, path, access)
    return {"openapi": "3.1.0",
            "info": {"title": "imgqueue", "version": VERSION, "description": INTRO},
            "servers": [{"url": "/"}],
            "tags": [{"name": name, "description": text} for name, text in TAGS],
            "paths": paths,
            "webhooks": notices.webhooks(),
            "components": {"securitySchemes": SECURITY_SCHEMES, "schemas": schemas(), "examples": error_examples()}}


def _operation(op: Operation, method: str, path: str, access: auth.Access) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.id, "tags": [op.tag], "summary": op.summary,
                           "description": f"{op.description}\n\n{who_may(access)}", "security": security(access)}
    if op.params:
        out["parameters"] = list(op.params)
    if op.body:
        out["requestBody"] = request_body(op.body)
    answers = {str(ok.status): success(ok) for ok in (op.ok, *op.also)}
    out["responses"] = {**answers, **error_responses(error_codes(op, access))}
    out["x-codeSamples"] = code_samples(op, method, path, access)
    return out


def _nothing() -> None:
    """Stands for a view the app does not have."""
