"""gunicorn's access log with every value escaped: a request line carrying ``%0A`` (or a quote) cannot
forge a line or a field of its own."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger


def escape(value: str) -> str:
    """Control characters, backslashes and quotes as escapes; printable text unchanged."""
    return value.encode("unicode_escape").decode("ascii").replace('"', '\\"')


class AccessLogger(Logger):  # type: ignore[misc]
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: escape(v) if isinstance(v, str) else v for k, v in atoms.items()}
