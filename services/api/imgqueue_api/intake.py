"""From an uploaded file to a job: the header checked (decoded off the event loop) and the work it asks
for, then either the upload stored under its job id, or, when a done job of the same tenant had the same
bytes and the same spec, a job that shares that job's output and stores nothing.

A content key (``quick``) names the bytes' size, their first and last 64 KiB and what is asked: the upload's
full digest is computed only when the key finds a candidate, and compared with the digest the worker
recorded for the candidate's input; identical bytes, identical spec, and only then a duplicate."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import IO, cast

from werkzeug.datastructures import FileStorage

from imgqueue import imaging
from imgqueue.errors import ImageError, JobNotFound
from imgqueue.job import Job, Rendition, input_key, new_job_id, output_key
from imgqueue.logs import TRACE
from imgqueue.options import JobOptions
from imgqueue.probe import check_work
from imgqueue.spec import EXTENSIONS, output_format_for
from imgqueue.status import JobStatus

from . import auth, greenlets, state
from .bodies import CappedFile
from .errors import ApiError
from .orders import Order

EDGE = 64 * 1024  # bytes of each end of a file that go into its content key
READ_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class Request:
    """What every file of one upload request shares."""

    order: Order
    options: JobOptions
    batch: str = ""
    callback_url: str = ""


def accept(file: FileStorage, req: Request) -> Job:
    """Check one uploaded file and make its job: stored under its id, or sharing an identical one's output.
    Raises ApiError."""
    st = state.get()
    name = (file.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]
    size = _size(file.stream)
    if size == 0:
        raise refusal("empty_file", "the uploaded file is empty", name)
    if size > st.settings.max_upload_bytes:
        raise refusal("file_too_large", f"the file is {size} bytes, more than the limit of "
                      f"{st.settings.max_upload_bytes}", name)
    order = req.order
    try:
        info = greenlets.offload(imaging.probe, file.stream, st.limits)
        specs = [v.spec for v in order.variants] or [order.spec]
        formats = [output_format_for(info.format, spec, st.writable) for spec in specs]
        check_work(info, list(zip(specs, formats, strict=True)), st.limits)
    except ImageError as exc:
        raise refusal(exc.code, str(exc), name) from None
    job_id = new_job_id()
    variants = tuple(Rendition(v.name, v.spec, output_key(job_id, EXTENSIONS[fmt], v.name))
                     for v, fmt in zip(order.variants, formats, strict=False))
    job = Job(id=job_id, spec=order.spec, input_key=input_key(job_id, EXTENSIONS.get(info.format, info.format.lower())),
              output_key=variants[0].key if variants else output_key(job_id, EXTENSIONS[formats[0]]), filename=name,
              tenant=auth.current().tenant, batch=req.batch, priority=req.options.priority.value,
              run_at=req.options.run_at, variants=variants, callback_url=req.callback_url, trace_id=TRACE.get(),
              placeholder_kind=order.placeholder.value if order.placeholder else "", input_format=info.format.lower(),
              input_width=info.width, input_height=info.height, input_bytes=size)
    if st.settings.dedup_by_content and not req.options.run_at:
        job.content = quick_key(file.stream, size, order.fingerprint)
        job.duplicate_of = _identical_done(job, file.stream)
    if not job.duplicate_of:
        store(job, file)
    return job


def store(job: Job, file: FileStorage) -> None:
    """Make the upload its job's input: the file staged as it arrived (``bodies.CappedFile``, the stream of
    every uploaded file), committed under the job's key, no copy."""
    job.input_bytes = cast(CappedFile, file.stream).commit(job.input_key)
    job.duplicate_of = ""


def quick_key(stream: IO[bytes], size: int, asked: str) -> str:
    """The content key: the size, both ends of the bytes, and what is asked (``Order.fingerprint``)."""
    digest = hashlib.sha256(f"{size}\n{asked}\n".encode())
    stream.seek(0)
    digest.update(stream.read(EDGE))
    stream.seek(max(0, size - EDGE))
    digest.update(stream.read(EDGE))
    return digest.hexdigest()[:40]


def full_digest(stream: IO[bytes]) -> str:
    stream.seek(0)
    digest = hashlib.sha256()
    while block := stream.read(READ_BLOCK):
        digest.update(block)
    return digest.hexdigest()


def _identical_done(job: Job, stream: IO[bytes]) -> str:
    """The id of the done job this upload duplicates, or ''."""
    jobs = state.get().store.jobs
    candidate = jobs.sharing(job.tenant, job.content)
    if not candidate:
        return ""
    try:
        original = jobs.get(candidate)
    except JobNotFound:
        return ""
    same = original.status is JobStatus.DONE and original.input_digest and \
        original.input_digest == full_digest(stream)
    return candidate if same else ""


def refusal(code: str, message: str, filename: str) -> ApiError:
    """An upload refused: the error names the file (as the client called it), when it has a name."""
    error = ApiError(code, message)
    if filename:
        error.details["filename"] = filename
    return error


def _size(stream: IO[bytes]) -> int:
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size
