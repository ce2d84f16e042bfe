"""A small typed client for imgqueue's HTTP API, so an application can use the service in a few lines::

    from imgqueue_client import Client

    api = Client("http://127.0.0.1:8000")
    job = api.submit("photo.jpg", 300, 200, fit="inside", format="webp")
    api.wait(job["jobId"])
    api.download(job["jobId"], "photo-small.webp")
"""

from .client import Client, Event
from .codes import CODES
from .errors import (
    ApiError,
    Conflict,
    Forbidden,
    Gone,
    InvalidRequest,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthorized,
    Unavailable,
    Unprocessable,
    Unsupported,
)
from .statuses import STATUSES, TERMINAL
from .webhooks import WebhookError, verify_webhook

__version__ = "0.2.0"  # the API's version it speaks to (the OpenAPI document's info.version)

__all__ = ["CODES", "STATUSES", "TERMINAL", "ApiError", "Client", "Conflict", "Event", "Forbidden", "Gone",
           "InvalidRequest", "NotFound", "RateLimited", "TooLarge", "Unauthorized", "Unavailable", "Unprocessable",
           "Unsupported", "WebhookError", "__version__", "verify_webhook"]
