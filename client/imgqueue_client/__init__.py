"""A small typed client for imgqueue's HTTP API, so an application can use the service in a few lines::

    from imgqueue_client import Client

    api = Client("http://127.0.0.1:8000")
    job = api.submit("photo.jpg", 300, 200, fit="inside", format="webp")
    api.wait(job["jobId"])
    api.download(job["jobId"], "photo-small.webp")
"""

from .client import ApiError, Client, Event
from .statuses import STATUSES, TERMINAL

__all__ = ["STATUSES", "TERMINAL", "ApiError", "Client", "Event"]
