"""What the contract says of one operation, and how it becomes OpenAPI.

An ``Operation`` names its Flask endpoint: its path and method come from the app's routes and who may call
it from the access declared beside the view (``auth.allow``), so neither is written twice. Its error
responses are the codes it lists plus those its access implies, each with its HTTP status and an example
from the one registry (``errors.ERRORS``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..auth import Access
from ..errors import ERRORS

JSON = "application/json"
Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class Ok:
    """The answer when all goes well."""

    status: int
    description: str
    schema: Schema
    example: Any
    media: str = JSON
    other_media: tuple[str, ...] = ()  # the same answer in other types too (a page's files)
    headers: tuple[str, ...] = ()  # response headers worth naming (Retry-After, Location...)


@dataclass(frozen=True)
class Body:
    """A request body: its media type, schema and one example or more (name: value)."""

    schema: Schema
    examples: dict[str, Any]
    media: str = "multipart/form-data"


@dataclass(frozen=True)
class Operation:
    endpoint: str  # the Flask endpoint ("control.cancel"): path, method and access come from the app
    id: str  # operationId
    tag: str
    summary: str
    description: str
    ok: Ok
    also: tuple[Ok, ...] = ()  # other successful answers (an idempotent replay's 200...)
    errors: tuple[str, ...] = ()  # codes this operation may answer, beside those its access implies
    params: tuple[Schema, ...] = ()
    body: Body | None = None
    store: bool = True  # reads or writes Redis: may answer redis_unavailable
    python: str = ""  # the call with the Python client (``client.<method>(...)``), checked against its signature
    curl: tuple[str, ...] = ()  # curl's arguments beyond method, token and URL (-F image=@photo.jpg ...)
    path_example: dict[str, str] = field(default_factory=dict)  # path parameters in the samples
    query_example: str = ""  # a query string in the curl sample's URL (?width=800...)


def error_codes(op: Operation, access: Access) -> list[str]:
    """Every code the operation may answer: its own and those of the gates in front of every view."""
    codes = ["host_not_allowed", "origin_not_allowed"]
    if not access.public:
        codes += ["unauthorized", "forbidden"]
    if op.store:
        codes.append("redis_unavailable")
    return list(dict.fromkeys([*codes, *op.errors]))


def error_responses(codes: list[str]) -> dict[str, Schema]:
    """One response per HTTP status, with an example per code."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERRORS[code].status, []).append(code)
    return {str(status): _error_response(status, named) for status, named in sorted(by_status.items())}


def _error_response(status: int, codes: list[str]) -> Schema:
    examples = {code: {"$ref": f"#/components/examples/{code}"} for code in codes}
    response: Schema = {"description": ", ".join(f"`{c}`" for c in codes),
                        "content": {JSON: {"schema": ref("Error"), "examples": examples}}}
    headers = {401: "WWW-Authenticate", 429: "Retry-After", 503: "Retry-After", 507: "Retry-After"}
    if status in headers:
        response["headers"] = {headers[status]: {"schema": {"type": "string"}}}
    return response


def error_examples() -> dict[str, Schema]:
    """Every error code's example, once (``components.examples``): the operations refer to them."""
    return {code: {"summary": f"{code} ({problem.status})",
                   "value": {"error": {"code": code, "message": problem.example}}}
            for code, problem in ERRORS.items()}


def security(access: Access) -> list[Schema]:
    if access.public:
        return []
    schemes: list[Schema] = [{"bearerAuth": []}]
    if access.ticket:
        schemes.append({"streamTicket": []})
    if access.link:
        schemes.append({"signedLink": [], "signedLinkExpiry": []})
    return schemes


def who_may(access: Access) -> str:
    if access.public:
        return "**Access**: anyone, no token needed."
    roles = " or ".join(f"`{r}`" for r in sorted(access.roles))
    extra = [w for w, on in (("a stream ticket", access.ticket), ("a signed link", access.link)) if on]
    return f"**Access**: a token of role {roles}" + (f", or {' or '.join(extra)}" if extra else "") + "."


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def success(ok: Ok) -> Schema:
    content = {media: {"schema": ok.schema, "example": ok.example} for media in (ok.media, *ok.other_media)}
    response: Schema = {"description": ok.description, "content": content}
    if ok.headers:
        response["headers"] = {h: {"schema": {"type": "string"}} for h in ok.headers}
    return response


def request_body(body: Body) -> Schema:
    examples = {name: {"summary": name, "value": value} for name, value in body.examples.items()}
    return {"required": True, "content": {body.media: {"schema": body.schema, "examples": examples}}}
