"""Tiny placeholders a page shows while the image loads, computed from the decoded picture (upright, in
sRGB), never from an output's crop: they have the source's aspect.

* BlurHash (``blurhash``: a small, pure-Python encoder and decoder with no dependencies; the C binding
  on PyPI reads pixels through an API Pillow is removing): 4 x 3 components, a string of about 20
  characters; it carries no aspect of its own, so the record keeps the source's size beside it.
* ThumbHash (``thash``: a maintained port of the reference algorithm, with no dependencies; the other
  packages pin old Pillow releases): about 25 bytes, base64; it carries the aspect ratio and alpha. Pure
  Python, so it is given a small image (its work grows with the pixels).
"""

from __future__ import annotations

import base64
from enum import Enum

import blurhash
import thash
from PIL import Image

from .errors import InvalidSpec


class Placeholder(str, Enum):
    BLURHASH = "blurhash"
    THUMBHASH = "thumbhash"


SOURCE_SIDE = {Placeholder.BLURHASH: 64, Placeholder.THUMBHASH: 48}  # the longest side it is computed from
BLURHASH_COMPONENTS = (4, 3)


def parse_placeholder(value: object) -> Placeholder | None:
    raw = str(value or "").strip().lower()
    if not raw:
        return None
    try:
        return Placeholder(raw)
    except ValueError:
        raise InvalidSpec(f"placeholder must be one of {', '.join(p.value for p in Placeholder)}, got "
                          f"{raw[:40]!r}") from None


def small(im: Image.Image, kind: Placeholder) -> Image.Image:
    """A copy of ``im`` no larger than the placeholder needs (RGB, or RGBA when it has alpha)."""
    side = SOURCE_SIDE[kind]
    out = im.convert("RGBA" if "A" in im.mode else "RGB")
    out.thumbnail((side, side), Image.Resampling.BILINEAR)
    return out


def compute(im: Image.Image, kind: Placeholder) -> str:
    """The placeholder of ``im`` (already small: see ``small``)."""
    if kind is Placeholder.BLURHASH:
        rgb = im.convert("RGB")
        rows = [[list(rgb.getpixel((x, y))) for x in range(rgb.width)] for y in range(rgb.height)]  # type: ignore[arg-type]
        return str(blurhash.encode(rows, *BLURHASH_COMPONENTS))
    rgba = im.convert("RGBA")
    return base64.b64encode(bytes(thash.rgba_to_thumb_hash(rgba.width, rgba.height, list(rgba.tobytes())))).decode()
