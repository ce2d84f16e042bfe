"""Where uploads and outputs live: objects addressed by key (``uploads/<jobId>.<ext>``,
``output/<jobId>.<ext>``), one interface (``Storage``), two backends chosen by ``STORAGE_URL``.

* ``LocalStorage`` (the default; ``file:///data``): ``uploads/`` and ``output/`` are two folders
  (UPLOAD_DIR, OUTPUT_DIR, or ``uploads/`` and ``output/`` under the URL's path); a file is written to a
  hidden temp name and renamed, so no reader ever sees a partial one. Every worker must see the same
  folders (one host, or a shared volume).
* ``S3Storage`` (``s3://bucket/prefix``): any S3-compatible object store (AWS S3, MinIO, R2, Ceph, rclone
  serve s3), through the minio client. An object becomes visible whole when its PUT completes, so no
  reader sees a partial one either; workers may run anywhere that reaches the store.

A job record keeps the keys of its input and its output, so nothing but the backend knows where they are.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ..config import Settings
from ..errors import ConfigError
from .base import Reader, Staged, Storage, StoredObject, checked, storage_error
from .local import LocalStorage
from .sweep import Swept, sweep

__all__ = ["LocalStorage", "Reader", "Staged", "Storage", "StoredObject", "Swept", "checked", "open_storage",
           "storage_error", "sweep"]


def open_storage(settings: Settings) -> Storage:
    """The backend ``STORAGE_URL`` names (the local folders when it is empty)."""
    url = urlsplit(settings.storage_url)
    if url.scheme in ("", "file"):
        if url.path:
            root = Path(url.path)
            return LocalStorage.at(root / "uploads", root / "output")
        return LocalStorage.at(settings.upload_dir, settings.output_dir)
    if url.scheme == "s3":
        from .s3 import S3Storage  # the S3 client is imported only where it is used

        return S3Storage.from_settings(settings)
    raise ConfigError(f"STORAGE_URL={settings.storage_url!r}: expected file:///path or s3://bucket/prefix")
