"""The optional libvips engine (``IMAGING_ENGINE=vips``, needs ``pip install pyvips pyvips-binary``).

Pillow cannot decode a PNG as fast as libvips (libspng), nor a WebP at a reduced scale (libwebp's scaled
decoding, which Pillow does not expose). With this engine libvips decodes and shrinks (with EXIF
orientation applied) down to a couple of times the target size; the small image then goes through the
same Pillow code as always for the exact geometry, colours, alpha and encoding, so outputs keep one set
of rules. Inputs libvips would treat differently (CMYK, 16-bit, palette with transparency, animation)
stay on Pillow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from typing import Any

from PIL import Image

from .errors import CorruptImage

_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_FORMATS = frozenset({"PNG", "WEBP"})  # Pillow's JPEG draft decoding is already as fast
_SAFE_MODES = frozenset({"RGB", "RGBA", "L", "LA", "P"})


@cache
def _pyvips() -> Any:
    try:
        import pyvips
    except (ImportError, OSError):
        return None
    pyvips.cache_set_max(0)
    return pyvips


def available() -> bool:
    return _pyvips() is not None


def suitable(fmt: str, mode: str, frames: int, info: Mapping[Any, Any], orientation: int) -> bool:
    return (fmt in _FORMATS and mode in _SAFE_MODES and frames == 1 and orientation in (0, 1)
            and not (mode == "P" and "transparency" in info))


def shrink(data: bytes, fmt: str, scale: float) -> Image.Image:
    """Decode ``data`` with libvips, shrunk by the largest whole factor that keeps it at least ``scale``
    x its size: WebP at a reduced scale while decoding, PNG by a box filter (premultiplied for alpha)."""
    pyvips = _pyvips()
    factor = max(1, math.floor(1 / scale))
    alpha = False
    try:
        if fmt == "WEBP":
            vimg = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="warning",
                                                 scale=1.0 / factor)
        else:
            vimg = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="warning")
            alpha = vimg.hasalpha()
            if factor > 1 and not alpha:
                vimg = vimg.shrink(factor, factor)
        if vimg.format != "uchar":
            vimg = vimg.cast("uchar")
        mode = _MODES[vimg.bands]
        raw = vimg.write_to_memory()
    except (pyvips.Error, KeyError) as exc:
        raise CorruptImage(f"the image could not be decoded: {exc}") from None
    image = Image.frombuffer(mode, (vimg.width, vimg.height), raw, "raw", mode, 0, 1)
    if fmt == "PNG" and alpha and factor > 1:
        # Pillow's reduce works on premultiplied 8-bit alpha (libvips' premultiply goes through float).
        image = image.reduce(factor)
    return image
