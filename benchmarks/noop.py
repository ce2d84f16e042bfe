"""The job RQ runs in the queue-overhead benchmark (RQ needs an importable function)."""


def noop() -> None:
    return None
