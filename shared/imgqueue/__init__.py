"""imgqueue: a Redis-backed image-resizing job queue. This package is the code the services share."""

__version__ = "0.1.0"
