"""Exceptions. Each carries a short machine-readable ``code``: it is what job records and API errors show.

The core knows nothing of HTTP: the API alone maps codes to statuses (``imgqueue_api.errors``).
"""

from __future__ import annotations


class ImgqueueError(Exception):
    code = "error"


class ConfigError(ImgqueueError, ValueError):
    """A setting is missing or malformed. The message names the variable."""

    code = "config_error"


class JobNotFound(ImgqueueError, LookupError):
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        shown = job_id if len(job_id) <= 64 else job_id[:64] + "…"  # never echo a whole request back
        super().__init__(f"no job with id {shown!r}")
        self.job_id = job_id


class InvalidSpec(ImgqueueError, ValueError):
    """Resize parameters that can never work (unknown fit, negative width...)."""

    code = "invalid_parameter"


# --- Permanent image errors: the job fails at once, retrying cannot help. ---------------------------


class ImageError(ImgqueueError):
    """Base of every error caused by the input image itself."""

    code = "image_error"


class NotAnImage(ImageError):
    code = "not_an_image"


class UnsupportedFormat(ImageError):
    code = "unsupported_format"


class CorruptImage(ImageError):
    code = "corrupt_image"


class TooManyPixels(ImageError):
    code = "too_many_pixels"


class TooManyFrames(ImageError):
    code = "too_many_frames"


class TooMuchMetadata(ImageError):
    """More metadata chunks, segments or bytes than MAX_METADATA_SEGMENTS or MAX_METADATA_BYTES allow."""

    code = "too_much_metadata"


class OutputTooLarge(ImageError):
    """What the spec asks of this image is more than the output pixel limit allows."""

    code = "output_too_large"


# --- Refusals of new work: the system is at one of its limits. -------------------------------------


class QueueFull(ImgqueueError):
    """The queue holds MAX_QUEUE_DEPTH jobs: nothing of this enqueue was queued."""

    code = "queue_full"

    def __init__(self, depth: int, limit: int, adding: int) -> None:
        super().__init__(f"the queue holds {depth} jobs and may hold {limit}: try again later")
        self.depth, self.limit, self.adding = depth, limit, adding


class NotReplicated(ImgqueueError):
    """The primary took the write but fewer replicas than REDIS_MIN_REPLICAS confirmed it in time."""

    code = "not_replicated"

    def __init__(self, acked: int, wanted: int) -> None:
        super().__init__(f"the job store confirmed the write on {acked} of {wanted} replicas in time; try again "
                         "(the job may exist already and run)")
        self.acked, self.wanted = acked, wanted


# --- Failures of the job's run that are not about the image. ----------------------------------------


class TransientError(ImgqueueError):
    """Worth retrying with backoff: storage I/O, a lost connection."""

    code = "transient_error"


class StorageError(TransientError):
    code = "storage_error"


class StorageFull(StorageError):
    """No space left (ENOSPC, EDQUOT): worth retrying once outputs expire or space is freed."""

    code = "insufficient_storage"


class JobTimeLimitExceeded(ImgqueueError):
    code = "time_limit_exceeded"


class InputMissing(ImgqueueError):
    """The uploaded file a job points at is gone: no retry can bring it back."""

    code = "input_missing"


class ObjectMissing(ImgqueueError, LookupError):
    """No stored object has this key (never written, expired, or removed)."""

    code = "object_missing"
