"""imgqueue's benchmarks: ``make bench`` (``python -m benchmarks``) and ``make bench-quick``."""
