"""Request bodies: refused from the headers wherever they suffice, before a byte of the body is read, and
read with care when they are taken.

* Length: an upload route (``@takes_uploads``) takes MAX_REQUEST_BYTES, any other route a small JSON body
  at most (``SMALL_BODY``); a larger ``Content-Length`` is 413 at once, naming the limit. A body a route
  did not read ends its connection once the answer is sent, rather than being read to its end only to be
  thrown away.
* Readers: a client may have MAX_BODIES_PER_CLIENT bodies being read at once per API process, and all
  clients together a quarter of the process's connections (streams may hold half): slow bodies cannot
  starve health checks or other clients (429 ``too_many_uploads`` at once, before reading).
* Form: read in large blocks, each file capped at MAX_UPLOAD_BYTES while it streams in, the whole form
  bounded by MAX_FORM_PARTS parts and MAX_FIELD_BYTES per field, the whole read by BODY_READ_TIMEOUT (408);
  a body that is not a readable form is 400 ``invalid_body``.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import IO, Any, TypeVar, cast

from flask import Flask, Request, Response, current_app, g, request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from imgqueue.job import UPLOADS
from imgqueue.storage import Staged

from . import greenlets, state
from .errors import ApiError

F = TypeVar("F", bound=Callable[..., object])

SMALL_BODY = 64 * 1024  # what a route that takes no upload may be sent (a JSON body)
# The form parser asks for 64 KiB at a time. gunicorn reads ahead up to 1 MiB per recv() and re-buffers
# what is left after each small read, so a photo's body was copied over and over (a fifth of the API's
# CPU). Reading in blocks as large as its read-ahead keeps every byte copied once.
BODY_BLOCK_BYTES = 1024 * 1024


def takes_uploads(view: F) -> F:
    """Declare that a route reads an upload (up to MAX_REQUEST_BYTES)."""
    view.takes_uploads = True  # type: ignore[attr-defined]
    return view


class CappedFile:
    """Where one uploaded file goes as it arrives: staged in the storage backend (in the uploads folder,
    written once, where its job will read it; an object store's is spooled, then put whole), refusing bytes
    past ``limit``. ``commit`` makes it the job's input; whatever is not committed is removed when the
    request ends, however it ends."""

    def __init__(self, limit: int, filename: str) -> None:
        self.staged: Staged = state.get().storage.stage(UPLOADS)
        g.setdefault("staged", []).append(self.staged)
        self.limit, self.filename, self.received = limit, filename, 0

    def write(self, data: Any) -> int:
        self.received += len(data)
        if self.received > self.limit:
            raise ApiError("file_too_large", f"the file is more than the limit of {self.limit} bytes",
                           filename=self.filename[:200])
        return self.staged.write(data)

    def read(self, n: int = -1) -> bytes:
        return self.staged.read(n)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.staged.seek(offset, whence)

    def tell(self) -> int:
        return self.staged.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.staged.fileno()

    @property
    def _file(self) -> Any:
        """What the probe's zero-copy view reads (``layout._view``): an object store's in-memory spool itself,
        rather than a file it would be rolled over to for a ``fileno``."""
        return getattr(self.staged, "_file", self.staged)

    def commit(self, key: str) -> int:
        """Make the file the object ``key``; its size."""
        return self.staged.commit(key)

    def close(self) -> None:
        self.staged.close()


class _Counted(io.RawIOBase):
    """The body as the form parser reads it, counting the bytes (to tell which limit a 413 is about)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.count = stream, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        buffer[:len(data)] = data
        self.count += len(data)
        return len(data)


class UploadRequest(Request):
    """Flask's request: files capped while they stream in, the body read in large blocks, a malformed form
    an error rather than an empty one, the form's own limits from the settings."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        return cast(IO[bytes], CappedFile(state.get().settings.max_upload_bytes, filename or ""))

    def _get_stream_for_parsing(self) -> IO[bytes]:
        counted = _Counted(super()._get_stream_for_parsing())
        g.body_counter = counted
        return io.BufferedReader(counted, buffer_size=BODY_BLOCK_BYTES)

    def make_form_data_parser(self) -> FormDataParser:
        settings = state.get().settings
        return self.form_data_parser_class(
            self._get_file_stream, max_form_memory_size=settings.max_field_bytes,
            max_content_length=self.max_content_length, max_form_parts=settings.max_form_parts,
            cls=self.parameter_storage_class, silent=False)


def form_files(client: str, *fields: str) -> list[FileStorage]:
    """The files of the form's ``fields``: read within BODY_READ_TIMEOUT, by one of the client's slots."""
    st = state.get()
    seconds = st.settings.body_read_timeout
    late = ApiError("body_timeout", f"the request body did not arrive within {seconds:g} s")
    with st.body_slots.hold(client), greenlets.deadline(seconds, late):
        try:
            files = [f for name in fields for f in request.files.getlist(name)]
        except RequestEntityTooLarge:
            raise _too_large() from None
        except ValueError as exc:
            raise ApiError("invalid_body", f"the body is not a readable multipart form ({str(exc)[:100]}); part "
                           "headers must be UTF-8") from None
        finally:
            g.body_read = True
    return files


def raw_file(client: str, filename: str) -> FileStorage:
    """The body itself as the one uploaded file (``PUT /upload``): read in large blocks within
    BODY_READ_TIMEOUT, by one of the client's slots, capped at MAX_UPLOAD_BYTES as it streams in."""
    st = state.get()
    seconds = st.settings.body_read_timeout
    late = ApiError("body_timeout", f"the request body did not arrive within {seconds:g} s")
    upload = CappedFile(st.settings.max_upload_bytes, filename)
    with st.body_slots.hold(client), greenlets.deadline(seconds, late):
        try:
            while block := request.stream.read(BODY_BLOCK_BYTES):
                upload.write(block)
        finally:
            g.body_read = True
    upload.seek(0)
    return FileStorage(stream=cast(IO[bytes], upload), filename=filename, content_type=request.mimetype)


def upload_fields() -> Any:
    """What an upload asks for: the form's fields, or for a raw body (``PUT /upload``) the query string's."""
    return request.args if request.method == "PUT" else request.form


def _too_large() -> ApiError:
    settings = state.get().settings
    counter = g.get("body_counter")
    read = counter.count if counter is not None else 0
    if (request.content_length or read) >= settings.max_request_bytes:
        return request_too_large(settings.max_request_bytes)
    return ApiError("form_too_large", f"the form has more than {settings.max_form_parts} parts, or a field of more "
                    f"than {settings.max_field_bytes} bytes (MAX_FORM_PARTS, MAX_FIELD_BYTES)")


def request_too_large(limit: int) -> ApiError:
    return ApiError("request_too_large", f"the request is larger than the limit of {limit} bytes")


def install(app: Flask) -> None:
    """Refuse a body that is too large from its Content-Length, before reading a byte of it; close the
    connection after a response that left a body unread."""

    @app.before_request
    def _length() -> None:
        if request.endpoint is None or request.content_length is None:
            return
        view = current_app.view_functions[request.endpoint]
        limit = state.get().settings.max_request_bytes if getattr(view, "takes_uploads", False) else SMALL_BODY
        if request.content_length > limit:
            raise request_too_large(limit)

    @app.teardown_request
    def _discard_staged(exc: BaseException | None) -> None:
        for staged in g.pop("staged", []):  # committed ones stay; the rest (refused, broken off) are removed
            staged.close()

    @app.after_request
    def _close_unread(resp: Response) -> Response:
        sent = request.content_length or request.headers.get("Transfer-Encoding", "").lower() == "chunked"
        if sent and not g.get("body_read"):
            resp.call_on_close(partial(_stop_reading, request.environ.get("gunicorn.socket")))
        return resp


def _stop_reading(sock: socket.socket | None) -> None:
    """Once the answer is sent, read nothing more from this connection: gunicorn would otherwise read an
    unread body to its end (however slow, however long) before the next request, and so the connection
    closes instead. (A Connection: close header would not do: gunicorn drops it, as WSGI asks.)"""
    if sock is not None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RD)
