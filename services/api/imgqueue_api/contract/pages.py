"""The pages: the dashboard, the API reference, and the document itself."""

from __future__ import annotations

from .model import Ok, Operation

_PAGE = "<!doctype html><html lang=\"en\">…</html>"

DASHBOARD = Operation(
    endpoint="dashboard.index", id="dashboard", tag="pages", summary="The live dashboard",
    description="Every job live, counters and workers, for people. In token mode it asks for a token and keeps "
                "it in the tab's session only.",
    ok=Ok(200, "HTML", {"type": "string"}, _PAGE, media="text/html"), store=False)

DOCS = Operation(
    endpoint="docs.page", id="docs", tag="pages", summary="This reference, as a page",
    description="This document rendered for people by Swagger UI (served from the image): every operation with "
                "its examples and code samples, and *Try it out* with a token typed into *Authorize*.",
    ok=Ok(200, "HTML", {"type": "string"}, _PAGE, media="text/html"), store=False)

OPENAPI = Operation(
    endpoint="docs.openapi", id="openapi", tag="pages", summary="This document",
    description="OpenAPI 3.1. An instance in open mode serves it without security requirements, as it asks for "
                "no token.",
    ok=Ok(200, "OpenAPI 3.1", {"type": "object"}, {"openapi": "3.1.0", "info": {"title": "imgqueue"}}),
    store=False, python='client.openapi()["info"]["version"]')

DOCS_FILE = Operation(
    endpoint="docs.ui_file", id="docsFile", tag="pages", summary="A file of the reference page (Swagger UI's)",
    description="`swagger-ui-bundle.js` or `swagger-ui.css`, from the image; any other name is 404.",
    ok=Ok(200, "the file", {"type": "string"}, "/* swagger-ui */", media="text/css",
          other_media=("text/javascript",)), errors=("file_not_found",),
    store=False, path_example={"name": "swagger-ui.css"},
    params=({"name": "name", "in": "path", "required": True, "description": "the file's name",
             "schema": {"type": "string", "enum": ["swagger-ui-bundle.js", "swagger-ui.css"]}},))

OPERATIONS = (DASHBOARD, DOCS, DOCS_FILE, OPENAPI)
