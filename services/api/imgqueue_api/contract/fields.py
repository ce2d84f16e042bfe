"""The request's fields and parameters, made from the definitions the parsers use (``spec``, ``options``,
``status``): a limit or a choice changes in one place and the contract follows."""

from __future__ import annotations

from imgqueue.options import SECONDS
from imgqueue.outbound import MAX_URL_LENGTH
from imgqueue.placeholders import Placeholder
from imgqueue.spec import DEFAULT_BACKGROUND, FLAG_WORDS, FORMAT_ALIASES, FRACTION, OUTPUT_FORMATS, Crop, Fit, Limits
from imgqueue.status import Priority

from ..events import MAX_IDS
from ..idempotency import HEADER, MAX_KEY
from ..jobs import DEFAULT_LIST, MAX_HISTORY_WINDOW, MAX_LIST
from ..jobs import HISTORY_WINDOW as DEFAULT_HISTORY_WINDOW
from .model import Schema, ref

_ASCII = "whole numbers in ASCII digits only (no other script's digits, no `+`, `_` or exponent)"
_FRACTION: Schema = {"type": "string", "pattern": f"^{FRACTION}$"}
EMPTY = "empty (a form cannot send null): the default"


def _optional(schema: Schema, description: str) -> Schema:
    """A form field: its value, or empty (as HTML forms send a field left blank)."""
    return {"anyOf": [schema, {"enum": ["", None]}], "description": f"{description}; {EMPTY}"}


def _flag(description: str) -> Schema:
    return _optional({"type": "string", "enum": list(FLAG_WORDS)}, description)


def resize_fields() -> dict[str, Schema]:
    side = {"type": "integer", "minimum": 1, "maximum": Limits().max_dimension}
    return {
        "width": _optional(side, f"output width in pixels; one side alone keeps the aspect ratio; {_ASCII}"),
        "height": _optional(side, f"output height in pixels; {_ASCII}"),
        "fit": _optional({"type": "string", "enum": [f.value for f in Fit], "default": Fit.COVER.value},
                         "how the image fits width x height, as sharp's `fit`"),
        "format": _optional({"type": "string", "enum": [*OUTPUT_FORMATS, *FORMAT_ALIASES]},
                            "output format; default: the input's"),
        "quality": _optional({"type": "integer", "minimum": 1, "maximum": 100},
                             f"JPEG, WebP and AVIF quality; default: the format's (80, 80, 50); {_ASCII}"),
        "progressive": _flag("progressive JPEG, interlaced PNG"),
        "without_enlargement": _flag("never make the image larger than it is"),
        "background": _optional({"type": "string", "pattern": "^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$",
                                 "default": DEFAULT_BACKGROUND},
                                "the colour `contain` pads with and transparency is flattened onto"),
        "crop": _optional({"type": "string", "enum": [c.value for c in Crop], "default": Crop.CENTRE.value},
                          "what `cover` keeps: the middle, or the part that catches the eye (`attention`) or has the "
                          "most detail (`entropy`), as sharp's strategies"),
        "fx": _optional(_FRACTION, "a focal point `cover` keeps centred where it can: its place across, 0 to 1; "
                                   "with fy"),
        "fy": _optional(_FRACTION, "the focal point's place down, 0 to 1; with fx"),
        "keep_icc": _flag("keep the input's ICC profile, unconverted; by default pixels become sRGB and no profile "
                          "is written (sharp's default)"),
    }


def set_fields() -> dict[str, Schema]:
    """What makes an upload a set of outputs, and its placeholder."""
    return {
        "variants": _optional({"type": "string", "contentMediaType": "application/json"},
                              f"a set of outputs from one decode: a JSON array of 1 to {Limits().max_variants} "
                              "objects, each a `name` ([a-z0-9_-]{1,32}, unique) and the resize fields above, which "
                              "are its defaults; their pixels count together against MAX_OUTPUT_PIXELS"),
        "preset": _optional({"type": "string"}, "an operator's named set of outputs (PRESETS); the only way to "
                                                "ask in presets-only mode"),
        "placeholder": _optional({"type": "string", "enum": [p.value for p in Placeholder]},
                                 "a tiny placeholder string in the record, from the whole picture"),
    }


def scheduling_fields() -> dict[str, Schema]:
    return {
        "priority": _optional({"type": "string", "enum": [p.value for p in Priority],
                               "default": Priority.NORMAL.value},
                              "which queue: workers take high, normal and low jobs in the ratio 6:3:1, so low "
                              "jobs are never starved"),
        "delay": _optional({"type": "string", "pattern": f"^{SECONDS.pattern}$"},
                           "run no sooner than this many seconds from now (at most MAX_DELAY); not with runAt"),
        "runAt": _optional({"type": "string", "format": "date-time"},
                           "run no sooner than this RFC 3339 time (with its offset); a time already past means at "
                           "once; not with delay"),
        "callbackUrl": _optional({"type": "string", "maxLength": MAX_URL_LENGTH},
                                 "where a signed webhook (Standard Webhooks) tells that the job ended: https, a "
                                 "public address (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE); empty: the tenant's "
                                 "endpoint, if it has one"),
        "batch": _optional({"type": "string"}, "the id of a batch (POST /batches) the job joins"),
    }


def upload_form(file_field: str, many: bool) -> Schema:
    binary = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}
    files = {"type": "array", "items": binary, "minItems": 1} if many else binary
    return {"type": "object", "required": [file_field],
            "properties": {file_field: files, **resize_fields(), **set_fields(), **scheduling_fields()}}


def upload_query() -> tuple[Schema, ...]:
    """The upload's fields as query parameters (``PUT /upload``, whose body is the image), and its name."""
    fields = {**resize_fields(), **set_fields(), **scheduling_fields()}
    params = [{"name": name, "in": "query", "schema": {k: v for k, v in schema.items() if k != "description"},
               "description": schema.get("description", "")} for name, schema in fields.items()]
    return (*params, {"name": "filename", "in": "query", "description": "the file's name, for display only",
                      "schema": {"type": "string", "maxLength": 200}})


IDEMPOTENCY_KEY: Schema = {
    "name": HEADER, "in": "header", "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
    "description": "makes a retried request safe: a second request with the same key (and the same body) "
                   "within IDEMPOTENCY_TTL answers as the first did and queues nothing; printable ASCII"}

JOB_ID: Schema = {"name": "job_id", "in": "path", "required": True, "description": "a job id (32 hex digits)",
                  "schema": {"type": "string"}}

LIST_LIMIT: Schema = {
    "name": "limit", "in": "query", "description": f"how many (1-{MAX_LIST}, default {DEFAULT_LIST}); empty: as "
                                                   "if absent",
    "schema": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_LIST, "default": DEFAULT_LIST},
                         {"const": ""}]}}

LIST_STATUS: Schema = {"name": "status", "in": "query", "description": "only jobs in this status; empty: as if "
                                                                        "absent",
                       "schema": {"anyOf": [ref("Status"), {"const": ""}]}}

LIST_IDS: Schema = {"name": "ids", "in": "query", "description": "only these jobs (comma-separated ids)",
                    "schema": {"type": "string"}}

HISTORY_WINDOW: Schema = {
    "name": "window", "in": "query", "description": f"seconds back from now (60-{MAX_HISTORY_WINDOW}, default "
                                                    f"{DEFAULT_HISTORY_WINDOW}); empty: as if absent",
    "schema": {"anyOf": [{"type": "integer", "minimum": 60, "maximum": MAX_HISTORY_WINDOW},
                         {"const": ""}]}}
LIST_TENANT: Schema = {"name": "tenant", "in": "query", "description": "admins: only this tenant's jobs (a "
                                                                      "client token sees its own anyway)",
                       "schema": {"type": "string"}}

STREAM_IDS: Schema = {"name": "ids", "in": "query",
                      "description": f"only these job ids (comma-separated, at most {MAX_IDS})",
                      "schema": {"type": "string"}}
STREAM_BATCH: Schema = {"name": "batch", "in": "query", "description": "only this batch's jobs",
                        "schema": {"type": "string"}}
STREAM_SUMMARY: Schema = {"name": "summary", "in": "query",
                          "description": "admins: a summary event every 2 s unless 0, false or no",
                          "schema": {"type": "string"}}
TICKET: Schema = {"name": "ticket", "in": "query", "description": "from POST /events/ticket (for EventSource, "
                                                                  "which cannot send a header)",
                  "schema": {"type": "string"}}

BATCH_ID: Schema = {"name": "batch_id", "in": "path", "required": True, "description": "a batch id (32 hex "
                                                                                    "digits)",
                    "schema": {"type": "string"}}
MESSAGE_ID: Schema = {"name": "message_id", "in": "path", "required": True,
                      "description": "a webhook message's id (`msg_<subject>_<n>`: its webhook-id header)",
                      "schema": {"type": "string"}}

VARIANT_NAME: Schema = {"name": "name", "in": "path", "required": True, "description": "an output's name in the set",
                        "schema": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"}}

LINK_PARAMS: tuple[Schema, ...] = (
    {"name": "expires", "in": "query", "description": "signed links: expiry (Unix seconds)",
     "schema": {"type": "string"}},
    {"name": "by", "in": "query", "description": "signed links: the id of the token the link was made for (a link "
                                                 "stops working when that token is revoked: `link_revoked`)",
     "schema": {"type": "string"}},
    {"name": "sig", "in": "query", "description": "signed links: HMAC-SHA256 of GET, the path, expires and by",
     "schema": {"type": "string"}},
)
