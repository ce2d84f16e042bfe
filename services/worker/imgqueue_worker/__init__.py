"""imgqueue's worker: N processes that take resize jobs from Redis and write the results."""

from .supervisor import Supervisor
from .worker import Worker

__all__ = ["Supervisor", "Worker"]
