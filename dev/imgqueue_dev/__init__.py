"""imgqueue's development harness (``make dev``, the tests, the benchmarks). No image installs it."""
